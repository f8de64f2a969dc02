-- A continuous aggregate's compression (columnstore) settings ($1 = its
-- materialization hypertable's oid), as TimescaleDB 2.19 and 2.29 both report them;
-- no row when its compression is off. (timescaledb_information.hypertables, which
-- compression.sql reads, leaves materialization hypertables out.)
SELECT coalesce(cs.segmentby, '{}')::text[] AS segment_by,
       s.orderby AS order_by,
       s.compress_interval_length AS chunk_interval
FROM timescaledb_information.continuous_aggregates ca
JOIN timescaledb_information.hypertable_compression_settings s
  ON s.hypertable = format('%I.%I', ca.materialization_hypertable_schema,
                           ca.materialization_hypertable_name)::regclass
LEFT JOIN _timescaledb_catalog.compression_settings cs ON cs.relid = s.hypertable
WHERE s.hypertable = $1::oid::regclass AND ca.compression_enabled
