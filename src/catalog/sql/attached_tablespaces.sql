-- The tablespaces attached to a hypertable ($1 = schema, $2 = name) with
-- attach_tablespace, in the order they were attached: TimescaleDB spreads its new
-- chunks over them.
SELECT t.tablespace_name::text AS tablespace
FROM _timescaledb_catalog.tablespace t
JOIN _timescaledb_catalog.hypertable h ON h.id = t.hypertable_id
WHERE h.schema_name = $1 AND h.table_name = $2
ORDER BY t.id
