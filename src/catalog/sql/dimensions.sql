-- Dimensions of a hypertable ($1 = schema, $2 = name), from the public view that
-- is the same on TimescaleDB 2.19 and 2.31.
SELECT d.dimension_number::int8 AS number,
       d.column_name::text AS column_name,
       d.column_type::text AS column_type,
       d.dimension_type AS kind,
       (extract(epoch FROM d.time_interval) * 1000000)::int8 AS time_interval_micros,
       d.integer_interval::int8 AS integer_interval,
       d.integer_now_func::text AS integer_now_func,
       d.num_partitions::int2 AS num_partitions
FROM timescaledb_information.dimensions d
WHERE d.hypertable_schema = $1 AND d.hypertable_name = $2
ORDER BY d.dimension_number
