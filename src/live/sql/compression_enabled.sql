-- The hypertables with compression enabled (run only when TimescaleDB is installed).
-- The public view, since 2.29 no longer links a compressed hypertable in the catalog.
SELECT hypertable_schema::text, hypertable_name::text
  FROM timescaledb_information.hypertables
 WHERE compression_enabled
