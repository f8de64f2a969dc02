-- The compression (columnstore) and retention policies of a hypertable ($1 = schema,
-- $2 = name): their threshold as SQL (an interval's text, or an integer), schedule,
-- whether they are scheduled at all, and any setting beyond the threshold. Other jobs are reported by features.sql.
SELECT j.proc_name::text AS kind,
       j.job_id,
       coalesce(j.config ->> 'compress_after', j.config ->> 'drop_after') AS after,
       jsonb_typeof(coalesce(j.config -> 'compress_after', j.config -> 'drop_after')) AS after_type,
       j.schedule_interval::text AS schedule_interval,
       j.scheduled,
       ARRAY(SELECT k FROM jsonb_object_keys(j.config) k
             WHERE k NOT IN ('hypertable_id', 'compress_after', 'drop_after') ORDER BY 1) AS other_keys
FROM timescaledb_information.jobs j
WHERE j.hypertable_schema = $1 AND j.hypertable_name = $2
  AND j.proc_name IN ('policy_compression', 'policy_retention')
  AND j.proc_schema LIKE '\_timescaledb\_%'
ORDER BY j.job_id
