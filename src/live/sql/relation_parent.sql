-- The table a relation of the stream belongs to, by OID and pg_inherits only (never
-- by parsing a chunk's name, timescaledb#6972): a chunk names its hypertable root,
-- any other relation names itself. No row: the relation is gone (dropped before the
-- follower asked; the caller skips and reports it).
-- $1: the relation's OID on the source, as int8 (tokio-postgres has no oid input).
WITH rel AS (SELECT $1::int8::oid AS oid)
SELECT n.nspname::text AS schema_name, c.relname::text AS table_name,
       (c.oid <> rel.oid) AS is_child
  FROM rel
  LEFT JOIN pg_inherits i ON i.inhrelid = rel.oid
  JOIN pg_class c ON c.oid = coalesce(i.inhparent, rel.oid)
  JOIN pg_namespace n ON n.oid = c.relnamespace
 LIMIT 1
