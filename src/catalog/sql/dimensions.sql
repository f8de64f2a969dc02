-- Dimensions of a hypertable ($1 = schema, $2 = name), from the public view that
-- is the same on TimescaleDB 2.19 and 2.31.
SELECT d.dimension_number::int8 AS number,
       d.column_name::text AS column_name,
       d.column_type::text AS column_type,
       d.dimension_type AS kind,
       (extract(epoch FROM d.time_interval) * 1000000)::int8 AS time_interval_micros,
       d.integer_interval::int8 AS integer_interval,
       -- schema-qualified, from the catalog (the view has the bare name only)
       (SELECT quote_ident(cd.integer_now_func_schema) || '.' || quote_ident(cd.integer_now_func)
          FROM _timescaledb_catalog.dimension cd
          JOIN _timescaledb_catalog.hypertable ch ON ch.id = cd.hypertable_id
         WHERE ch.schema_name = $1 AND ch.table_name = $2 AND cd.column_name = d.column_name
           AND cd.integer_now_func IS NOT NULL) AS integer_now_func,
       d.num_partitions::int2 AS num_partitions,
       -- a custom partitioning function, schema-qualified (the view does not show it)
       (SELECT quote_ident(cd.partitioning_func_schema) || '.' || quote_ident(cd.partitioning_func)
          FROM _timescaledb_catalog.dimension cd
          JOIN _timescaledb_catalog.hypertable ch ON ch.id = cd.hypertable_id
         WHERE ch.schema_name = $1 AND ch.table_name = $2 AND cd.column_name = d.column_name
           AND cd.partitioning_func IS NOT NULL
           -- the hash dimension's default is TimescaleDB's own, not a custom one
           AND cd.partitioning_func_schema NOT LIKE '\_timescaledb\_%') AS partitioning_func
FROM timescaledb_information.dimensions d
WHERE d.hypertable_schema = $1 AND d.hypertable_name = $2
ORDER BY d.dimension_number
