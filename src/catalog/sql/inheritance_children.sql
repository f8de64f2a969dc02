-- Tables that inherit from a table ($1 = its OID), by name.
SELECT n.nspname::text AS schema, c.relname::text AS name
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhparent = $1
ORDER BY 1, 2
