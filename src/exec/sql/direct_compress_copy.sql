-- Direct-to-columnstore COPY for this transaction only: TimescaleDB compresses the
-- rows as they arrive instead of writing them to the chunk's heap and indexes first
-- (timescaledb.enable_direct_compress_copy, TimescaleDB 2.2x). A server without the
-- setting matches no row here, and nothing changes.
SELECT set_config(name, 'on', true)
FROM pg_settings
WHERE name = 'timescaledb.enable_direct_compress_copy'
