-- Server facts a plan depends on: versions, and where TimescaleDB lives.
SELECT current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       current_database()::text AS database,
       (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb_installed,
       (SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'timescaledb') AS timescaledb_schema,
       (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS timescaledb_available,
       current_setting('timescaledb.license', true) AS timescaledb_license,
       -- a server built without lz4 does not offer it for TOAST compression
       EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) AS lz4,
       coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false) AS tls,
       -- identifies the server instance, whatever host name reached it (readable by
       -- every role, unlike data_directory)
       pg_postmaster_start_time()::text || ' ' || coalesce(inet_server_port()::text, 'socket')
         || ' ' || (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS instance
