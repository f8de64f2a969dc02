-- Sets timescaledb.restoring for the database and stops its background workers, so
-- TimescaleDB lets pg_restore write its catalog and chunks as plain tables.
-- {schema} is quoted by pg::quote_ident.
SELECT {schema}.timescaledb_pre_restore()
