-- The target's compression as the move left it ({schema}.{name}, {rel}): its segmentby
-- columns, how many chunks of the slices meant to end compressed ([{los}] to [{his}],
-- internal units) are not compressed, and its orderby as TimescaleDB writes it.
SELECT coalesce(array_to_string(cs.segmentby, ','), '') AS segment_by,
       (SELECT count(*)
          FROM timescaledb_information.chunks c
          JOIN unnest(ARRAY[{los}]::int8[], ARRAY[{his}]::int8[]) AS s(lo, hi)
            ON {start} >= s.lo AND {end} <= s.hi
         WHERE c.hypertable_schema = {schema} AND c.hypertable_name = {name}
           AND NOT c.is_compressed)::text AS uncompressed,
       coalesce(hs.orderby, '') AS order_by
FROM timescaledb_information.hypertable_compression_settings hs
LEFT JOIN _timescaledb_catalog.compression_settings cs ON cs.relid = hs.hypertable
WHERE hs.hypertable = {rel}::regclass
