-- TimescaleDB features of a hypertable ($1 = schema, $2 = name) that hypermove does
-- not carry yet: continuous aggregates and background jobs other than the
-- compression and retention policies. (`compression` is read for old manifests' sake.)
SELECT coalesce((SELECT h.compression_enabled FROM timescaledb_information.hypertables h
                 WHERE h.hypertable_schema = $1 AND h.hypertable_name = $2), false) AS compression,
       ARRAY(SELECT quote_ident(ca.view_schema) || '.' || quote_ident(ca.view_name)
             FROM timescaledb_information.continuous_aggregates ca
             WHERE ca.hypertable_schema = $1 AND ca.hypertable_name = $2
             ORDER BY 1) AS continuous_aggregates,
       ARRAY(SELECT j.proc_name::text || ' (job ' || j.job_id || ')'
             FROM timescaledb_information.jobs j
             WHERE j.hypertable_schema = $1 AND j.hypertable_name = $2
               -- compression and retention policies are read by policies_of.sql
               AND NOT (j.proc_name IN ('policy_compression', 'policy_retention')
                        AND j.proc_schema LIKE '\_timescaledb\_%')
             ORDER BY j.job_id) AS jobs
