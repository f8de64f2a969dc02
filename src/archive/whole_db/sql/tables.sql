-- The user tables a whole-database manifest counts rows of. A hypertable is counted
-- through its parent, so its chunks (in the _timescaledb_* schemas) are left out and
-- only numbered here; so are system schemas, hypermove's own journal, and tables that
-- belong to an extension (their rows come from the extension, not from the dump).
SELECT n.nspname::text AS schema,
       c.relname::text AS name,
       (SELECT count(*)
          FROM pg_inherits i
          JOIN pg_class ch ON ch.oid = i.inhrelid
          JOIN pg_namespace chn ON chn.oid = ch.relnamespace
         WHERE i.inhparent = c.oid
           AND chn.nspname LIKE '\_timescaledb\_%') AS chunks
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'hypermove')
  AND n.nspname NOT LIKE 'pg\_%'
  AND n.nspname NOT LIKE '\_timescaledb\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                   WHERE d.classid = 'pg_class'::regclass
                     AND d.objid = c.oid
                     AND d.deptype = 'e')
ORDER BY 1, 2
