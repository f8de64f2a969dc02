-- A hypertable's compression (columnstore) settings ($1 = schema, $2 = name), as
-- TimescaleDB 2.19 and 2.29 both report them; no row when compression is off.
-- `order_by` is TimescaleDB's own SQL text (`"time" DESC`), `segment_by` the columns.
SELECT coalesce(cs.segmentby, '{}')::text[] AS segment_by,
       s.orderby AS order_by,
       s.compress_interval_length AS chunk_interval
FROM timescaledb_information.hypertables h
JOIN timescaledb_information.hypertable_compression_settings s
  ON s.hypertable = format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass
LEFT JOIN _timescaledb_catalog.compression_settings cs ON cs.relid = s.hypertable
WHERE h.hypertable_schema = $1 AND h.hypertable_name = $2 AND h.compression_enabled
