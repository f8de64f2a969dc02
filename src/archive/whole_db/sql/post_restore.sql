-- Turns timescaledb.restoring off again and restarts the background workers.
-- {schema} is quoted by pg::quote_ident.
SELECT {schema}.timescaledb_post_restore()
