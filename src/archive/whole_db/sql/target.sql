-- restore-db's preflight on the target server's maintenance database. Reads only.
-- $1: the database to create; $2: the dump's TimescaleDB version (NULL: none).
SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname::text = $1::text) AS database_exists,
       EXISTS (SELECT 1 FROM pg_available_extension_versions
                WHERE name = 'timescaledb' AND version::text = $2::text) AS timescaledb_exact,
       coalesce((SELECT rolsuper OR rolcreatedb FROM pg_roles
                  WHERE rolname = current_user), false) AS can_create_database,
       current_setting('shared_preload_libraries') LIKE '%timescaledb%' AS timescaledb_preloaded
