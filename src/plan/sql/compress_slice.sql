-- Compress the target hypertable's chunks of one time slice once every window that
-- fills it has landed: {ts} is TimescaleDB's schema, {schema}.{name} the hypertable,
-- [{lo}, {hi}) the slice in TimescaleDB's internal units (Unix-epoch microseconds
-- for time columns). Chunks already compressed are left as they are (a resumed run).
SELECT count({ts}.compress_chunk(format('%I.%I', c.chunk_schema, c.chunk_name)::regclass,
                                 if_not_compressed => true))
FROM timescaledb_information.chunks c
WHERE c.hypertable_schema = {schema} AND c.hypertable_name = {name}
  AND {start} >= {lo} AND {end} <= {hi}
