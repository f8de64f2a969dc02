-- The TimescaleDB background jobs that touch a table ($1 = its OID, $2 = schema,
-- $3 = name), with everything add_job and alter_job take. A job touches the table when:
--   - its hypertable is the table (compression, retention, reorder policies);
--   - its hypertable is the materialization of a continuous aggregate over the table,
--     directly or through other aggregates (refresh policies);
--   - it is a user job (its procedure outside TimescaleDB's schemas) and its config
--     names the table: a string anywhere in it equal to `schema.name` (quoted or not)
--     or to the bare name, or a top-level "hypertable_id" equal to the table's;
--   - it is a user job whose procedure's SQL-standard body reads the table (pg_depend
--     records that for BEGIN ATOMIC bodies only: a plpgsql body is not parsed at
--     creation, so what it reads is not recorded anywhere).
-- Text forms are the session's (UTC, IntervalStyle postgres).
WITH RECURSIVE ht AS (
    SELECT h.id FROM _timescaledb_catalog.hypertable h
    WHERE h.schema_name = $2 AND h.table_name = $3
),
caggs(mat_id, view_schema, view_name, depth) AS (
    SELECT ca.mat_hypertable_id, ca.user_view_schema::text, ca.user_view_name::text, 1
    FROM _timescaledb_catalog.continuous_agg ca
    WHERE ca.raw_hypertable_id IN (SELECT id FROM ht)
  UNION ALL
    SELECT ca.mat_hypertable_id, ca.user_view_schema::text, ca.user_view_name::text, caggs.depth + 1
    FROM _timescaledb_catalog.continuous_agg ca
    JOIN caggs ON ca.raw_hypertable_id = caggs.mat_id
    WHERE caggs.depth < 20
),
touching AS (
    SELECT j.id,
           CASE WHEN j.hypertable_id IN (SELECT id FROM ht) THEN 'its hypertable'
                WHEN j.hypertable_id IN (SELECT mat_id FROM caggs) THEN 'a continuous aggregate over it'
                WHEN jsonb_path_exists(coalesce(j.config, '{}'), '$.hypertable_id ? (@ == $id)',
                                       jsonb_build_object('id', (SELECT id FROM ht)))
                     THEN 'its config names its hypertable_id'
                WHEN EXISTS (SELECT 1 FROM jsonb_path_query(coalesce(j.config, '{}'), 'strict $.**') v
                             WHERE jsonb_typeof(v) = 'string'
                               AND v #>> '{}' IN ($2 || '.' || $3, quote_ident($2) || '.' || quote_ident($3), $3))
                     THEN 'its config names it'
                ELSE 'its procedure reads it'
           END AS why
    FROM _timescaledb_config.bgw_job j
    WHERE j.hypertable_id IN (SELECT id FROM ht)
       OR j.hypertable_id IN (SELECT mat_id FROM caggs)
       OR (j.proc_schema NOT LIKE '\_timescaledb\_%' AND j.proc_schema NOT LIKE 'timescaledb\_%' AND (
              jsonb_path_exists(coalesce(j.config, '{}'), '$.hypertable_id ? (@ == $id)',
                                jsonb_build_object('id', coalesce((SELECT id FROM ht), -1)))
           OR EXISTS (SELECT 1 FROM jsonb_path_query(coalesce(j.config, '{}'), 'strict $.**') v
                      WHERE jsonb_typeof(v) = 'string'
                        AND v #>> '{}' IN ($2 || '.' || $3, quote_ident($2) || '.' || quote_ident($3), $3))
           OR EXISTS (SELECT 1 FROM pg_depend d
                      JOIN pg_proc p ON p.oid = d.objid
                      JOIN pg_namespace n ON n.oid = p.pronamespace
                      WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_class'::regclass
                        AND d.refobjid = $1 AND n.nspname = j.proc_schema AND p.proname = j.proc_name)))
)
SELECT j.id AS job_id,
       j.application_name::text AS application_name,
       j.proc_schema::text AS proc_schema,
       j.proc_name::text AS proc_name,
       (j.proc_schema NOT LIKE '\_timescaledb\_%' AND j.proc_schema NOT LIKE 'timescaledb\_%') AS user_job,
       j.schedule_interval::text AS schedule_interval,
       j.max_runtime::text AS max_runtime,
       j.max_retries,
       j.retry_period::text AS retry_period,
       j.scheduled,
       j.fixed_schedule,
       j.initial_start::text AS initial_start,
       j.timezone,
       j.config::text AS config,
       j.check_schema::text AS check_schema,
       j.check_name::text AS check_name,
       j.owner::text AS owner,
       c.view_schema AS cagg_schema,
       c.view_name AS cagg_name,
       t.why
FROM touching t
JOIN _timescaledb_config.bgw_job j ON j.id = t.id
LEFT JOIN caggs c ON c.mat_id = j.hypertable_id
ORDER BY j.id
