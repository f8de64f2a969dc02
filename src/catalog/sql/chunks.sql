-- Chunks of a hypertable ($1 = schema, $2 = name) with their range on the primary
-- (time) dimension, in TimescaleDB's internal units: Unix-epoch microseconds for
-- time types (read with TimeZone = UTC), the value itself for integers.
-- NULL means the range is open on that side.
-- A compressed chunk's own heap holds only the rows written since it was compressed;
-- its estimates add the rows and the uncompressed size recorded at compression.
SELECT c.chunk_schema::text AS chunk_schema,
       c.chunk_name::text AS chunk_name,
       CASE WHEN c.range_start IS NOT NULL
            THEN CASE WHEN isfinite(c.range_start)
                      THEN (extract(epoch FROM c.range_start) * 1000000)::int8 END
            ELSE c.range_start_integer END AS range_start,
       CASE WHEN c.range_end IS NOT NULL
            THEN CASE WHEN isfinite(c.range_end)
                      THEN (extract(epoch FROM c.range_end) * 1000000)::int8 END
            ELSE c.range_end_integer END AS range_end,
       CASE WHEN ccs.numrows_pre_compression IS NOT NULL
            THEN greatest(cl.reltuples, 0) + ccs.numrows_pre_compression
            ELSE cl.reltuples END::float8 AS reltuples,
       cl.relpages::int8 * current_setting('block_size')::int8
         + coalesce(ccs.uncompressed_heap_size + ccs.uncompressed_toast_size, 0) AS est_bytes,
       c.is_compressed AS is_compressed
FROM timescaledb_information.chunks c
JOIN pg_namespace n ON n.nspname = c.chunk_schema
JOIN pg_class cl ON cl.relnamespace = n.oid AND cl.relname = c.chunk_name
-- The catalog names a chunk by schema_name/table_name up to 2.2x, and by relid since;
-- read through jsonb so either layout resolves.
JOIN _timescaledb_catalog.chunk ch
  ON coalesce((to_jsonb(ch) ->> 'relid')::regclass = cl.oid,
              (to_jsonb(ch) ->> 'schema_name') = c.chunk_schema
              AND (to_jsonb(ch) ->> 'table_name') = c.chunk_name)
LEFT JOIN _timescaledb_catalog.compression_chunk_size ccs ON ccs.chunk_id = ch.id
WHERE c.hypertable_schema = $1 AND c.hypertable_name = $2
ORDER BY range_start NULLS FIRST, c.chunk_schema, c.chunk_name
