-- TimescaleDB features of a hypertable ($1 = schema, $2 = name) that a plain
-- data move cannot carry to an Apache-licensed target: compression, continuous
-- aggregates and background jobs (policies).
SELECT coalesce((SELECT h.compression_enabled FROM timescaledb_information.hypertables h
                 WHERE h.hypertable_schema = $1 AND h.hypertable_name = $2), false) AS compression,
       ARRAY(SELECT quote_ident(ca.view_schema) || '.' || quote_ident(ca.view_name)
             FROM timescaledb_information.continuous_aggregates ca
             WHERE ca.hypertable_schema = $1 AND ca.hypertable_name = $2
             ORDER BY 1) AS continuous_aggregates,
       ARRAY(SELECT j.proc_name::text || ' (job ' || j.job_id || ')'
             FROM timescaledb_information.jobs j
             WHERE j.hypertable_schema = $1 AND j.hypertable_name = $2
             ORDER BY j.job_id) AS jobs
