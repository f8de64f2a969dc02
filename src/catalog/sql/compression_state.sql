-- The compression (columnstore) state of hypertables, for `status`: $1 = their names
-- as SQL text (`public.metrics`, `"My Schema"."T"`); a name that is no hypertable
-- with compression on gives no row. The settings as compression.sql reads them, and
-- the chunks: all of them, the compressed ones, and the partially compressed ones
-- (rows written since compression: status bit 8; they count as compressed too).
-- The catalog names a chunk by schema_name/table_name up to 2.2x and by relid
-- since; read through jsonb so either layout resolves (as in chunks.sql).
SELECT h.hypertable_schema::text AS schema,
       h.hypertable_name::text AS name,
       coalesce(cs.segmentby, '{}')::text[] AS segment_by,
       coalesce(s.orderby, '') AS order_by,
       count(c.chunk_name) AS chunks,
       count(c.chunk_name) FILTER (WHERE c.is_compressed) AS compressed,
       count(c.chunk_name) FILTER (WHERE ch.status & 8 <> 0) AS partial
FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)
JOIN timescaledb_information.hypertables h
  ON format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass = to_regclass(t.name)
JOIN timescaledb_information.hypertable_compression_settings s
  ON s.hypertable = to_regclass(t.name)
LEFT JOIN _timescaledb_catalog.compression_settings cs ON cs.relid = s.hypertable
LEFT JOIN timescaledb_information.chunks c
  ON c.hypertable_schema = h.hypertable_schema AND c.hypertable_name = h.hypertable_name
LEFT JOIN _timescaledb_catalog.chunk ch
  ON coalesce((to_jsonb(ch) ->> 'relid')::regclass = format('%I.%I', c.chunk_schema, c.chunk_name)::regclass,
              (to_jsonb(ch) ->> 'schema_name') = c.chunk_schema
              AND (to_jsonb(ch) ->> 'table_name') = c.chunk_name)
WHERE h.compression_enabled
GROUP BY t.i, h.hypertable_schema, h.hypertable_name, cs.segmentby, s.orderby
ORDER BY t.i
