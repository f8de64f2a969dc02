-- The tables of the schemas to be published FOR TABLES IN SCHEMA (the chunk schemas)
-- whose replica identity cannot be decoded, grouped by the table they belong to (a
-- chunk's pg_inherits parent, else the table itself). Once such a schema is
-- published, every UPDATE/DELETE on them fails on the source ("does not have a
-- replica identity and publishes updates"), moved or not.
-- Run only when the extension is installed.
-- $1: the schema names.
WITH bad AS (
  SELECT c.oid, n.nspname, c.relname
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = ANY ($1::text[])
     AND c.relkind = 'r'
     AND NOT (c.relreplident = 'f'
       OR (c.relreplident = 'i' AND EXISTS (SELECT 1 FROM pg_index i
                                             WHERE i.indrelid = c.oid AND i.indisreplident))
       OR (c.relreplident = 'd' AND EXISTS (SELECT 1 FROM pg_index i
                                             WHERE i.indrelid = c.oid AND i.indisprimary)))
     -- TimescaleDB's own tables (bgw_policy_chunk_stats has no key): it writes them
     -- through the catalog API, which skips the executor's replica identity check.
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype = 'e')
     -- Compressed hypertables and chunks: they never have a replica identity and
     -- TimescaleDB's changes to them bypass the check too. Recognised by the column
     -- every compressed relation has on 2.19 and 2.29 alike; their catalog links
     -- differ (2.19: a compressed hypertable and chunk rows; 2.29: no hypertable,
     -- compression_settings.compress_relid), and they are nobody's pg_inherits child.
     AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attname = '_ts_meta_count'
                        AND NOT a.attisdropped)
     AND NOT EXISTS (SELECT 1 FROM _timescaledb_catalog.hypertable u
                       JOIN _timescaledb_catalog.hypertable z
                         ON z.id = u.compressed_hypertable_id
                      WHERE z.schema_name = n.nspname AND z.table_name = c.relname)
), owner AS (
  SELECT b.nspname AS chunk_schema, b.relname AS chunk_name,
         coalesce(pi.inhparent, b.oid) AS root
    FROM bad b
    LEFT JOIN pg_inherits pi ON pi.inhrelid = b.oid
)
SELECT n.nspname::text AS schema_name, c.relname::text AS table_name,
       count(*)::int AS relations,
       min(quote_ident(o.chunk_schema) || '.' || quote_ident(o.chunk_name))::text AS example
  FROM owner o
  JOIN pg_class c ON c.oid = o.root
  JOIN pg_namespace n ON n.oid = c.relnamespace
 GROUP BY 1, 2
 ORDER BY 1, 2
