-- The target hypertable's partitioning columns ($1 schema, $2 name); none for a
-- plain table. Run only where timescaledb_information exists.
SELECT column_name::text
  FROM timescaledb_information.dimensions
 WHERE hypertable_schema = $1 AND hypertable_name = $2
 ORDER BY dimension_number
