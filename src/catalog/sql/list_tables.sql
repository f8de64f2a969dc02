-- Every ordinary table a spec's `include:` patterns may select: no system or
-- TimescaleDB internal schemas (so never a chunk), and not hypermove's own journal.
SELECT n.nspname::text AS schema, c.relname::text AS name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'hypermove',
                        'timescaledb_information', 'timescaledb_experimental')
  AND n.nspname NOT LIKE 'pg\_%'
  AND n.nspname NOT LIKE '\_timescaledb\_%'
ORDER BY 1, 2
