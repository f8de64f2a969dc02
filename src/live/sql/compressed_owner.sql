-- When a relation's parent is a TimescaleDB compressed hypertable, the user
-- hypertable it compresses (TimescaleDB's catalog links them by id). A compressed
-- chunk's changes are TimescaleDB's own work, or rows a user wrote straight into
-- compressed form; either way they are not plain row changes to apply.
-- Run only when the extension is installed (the catalog table exists then).
-- $1, $2: the parent's schema and name, as relation_parent.sql returned them.
SELECT u.schema_name::text, u.table_name::text
  FROM _timescaledb_catalog.hypertable u
  JOIN _timescaledb_catalog.hypertable z ON z.id = u.compressed_hypertable_id
 WHERE z.schema_name = $1 AND z.table_name = $2
