-- Find a relation by exact schema and name. $1 = schema, $2 = name.
SELECT c.oid, c.relkind::text AS relkind,
       c.reltuples::float8 AS reltuples,
       c.relpages::int8 * current_setting('block_size')::int8 AS est_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2
