-- The continuous aggregates built on a hypertable ($1 = schema, $2 = name): those on
-- it, and those on them (hierarchical), each after the one it reads. Read in the
-- move's snapshot, so the watermark, the invalidation threshold and the pending
-- invalidations are those of the materialized rows the copy reads.
--
-- `definition` is the query as the user wrote it: pg_get_viewdef of the aggregate's
-- direct view (what timescaledb_information.continuous_aggregates shows as
-- view_definition), which the session's search_path = pg_catalog qualifies.
-- `finalized` is read through jsonb: the column is gone from 2.2x's catalog, where
-- every aggregate is finalized. `threshold` and `hypertable_invalidations` are those
-- of the hypertable the aggregate reads (the raw one, or its parent's materialization);
-- `materialization_invalidations` the aggregate's own, as lo, hi pairs.
-- `other_reads` are the relations the query reads besides that hypertable (or the
-- parent aggregate's view): tables a 2.x aggregate may join.
WITH RECURSIVE tree AS (
    SELECT ca.mat_hypertable_id, ca.raw_hypertable_id, 1 AS depth
    FROM _timescaledb_catalog.continuous_agg ca
    JOIN _timescaledb_catalog.hypertable h ON h.id = ca.raw_hypertable_id
    WHERE h.schema_name = $1 AND h.table_name = $2
  UNION ALL
    SELECT ca.mat_hypertable_id, ca.raw_hypertable_id, tree.depth + 1
    FROM _timescaledb_catalog.continuous_agg ca
    JOIN tree ON ca.raw_hypertable_id = tree.mat_hypertable_id
),
agg AS (
    SELECT DISTINCT ON (ca.mat_hypertable_id) ca.*, tree.depth,
           to_regclass(format('%I.%I', ca.user_view_schema, ca.user_view_name))::oid AS view_oid,
           to_regclass(format('%I.%I', ca.direct_view_schema, ca.direct_view_name))::oid AS direct_oid,
           coalesce((to_jsonb(ca) ->> 'finalized')::bool, true) AS is_finalized
    FROM tree
    JOIN _timescaledb_catalog.continuous_agg ca ON ca.mat_hypertable_id = tree.mat_hypertable_id
    ORDER BY ca.mat_hypertable_id, tree.depth DESC
)
SELECT a.view_oid AS oid,
       a.direct_oid,
       a.user_view_schema::text AS schema,
       a.user_view_name::text AS name,
       a.depth,
       p.user_view_schema::text AS parent_schema,
       p.user_view_name::text AS parent_name,
       pg_get_viewdef(a.direct_oid, true) AS definition,
       a.materialized_only,
       a.is_finalized AS finalized,
       mh.schema_name::text AS mat_schema,
       mh.table_name::text AS mat_name,
       format('%I.%I', mh.schema_name, mh.table_name)::regclass::oid AS mat_oid,
       d.column_name::text AS time_column,
       d.column_type::oid AS time_type,
       d.interval_length AS chunk_interval,
       coalesce((SELECT w.watermark FROM _timescaledb_catalog.continuous_aggs_watermark w
                 WHERE w.mat_hypertable_id = a.mat_hypertable_id), -9223372036854775808) AS watermark,
       (SELECT t.watermark FROM _timescaledb_catalog.continuous_aggs_invalidation_threshold t
        WHERE t.hypertable_id = a.raw_hypertable_id) AS threshold,
       ARRAY(SELECT l.lowest_modified_value
             FROM _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log l
             WHERE l.hypertable_id = a.raw_hypertable_id
             ORDER BY 1, l.greatest_modified_value) AS raw_lo,
       ARRAY(SELECT l.greatest_modified_value
             FROM _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log l
             WHERE l.hypertable_id = a.raw_hypertable_id
             ORDER BY l.lowest_modified_value, 1) AS raw_hi,
       ARRAY(SELECT l.lowest_modified_value
             FROM _timescaledb_catalog.continuous_aggs_materialization_invalidation_log l
             WHERE l.materialization_id = a.mat_hypertable_id
             ORDER BY 1, l.greatest_modified_value) AS mat_lo,
       ARRAY(SELECT l.greatest_modified_value
             FROM _timescaledb_catalog.continuous_aggs_materialization_invalidation_log l
             WHERE l.materialization_id = a.mat_hypertable_id
             ORDER BY l.lowest_modified_value, 1) AS mat_hi,
       coalesce(o.schemas, '{}') AS other_read_schemas,
       coalesce(o.names, '{}') AS other_read_names,
       ARRAY(SELECT j.proc_name::text || ' (job ' || j.job_id || ')'
             FROM timescaledb_information.jobs j
             WHERE j.hypertable_schema = mh.schema_name AND j.hypertable_name = mh.table_name
             ORDER BY j.job_id) AS jobs
FROM agg a
JOIN _timescaledb_catalog.hypertable mh ON mh.id = a.mat_hypertable_id
JOIN _timescaledb_catalog.hypertable rh ON rh.id = a.raw_hypertable_id
LEFT JOIN _timescaledb_catalog.continuous_agg p ON p.mat_hypertable_id = a.raw_hypertable_id
JOIN _timescaledb_catalog.dimension d ON d.hypertable_id = a.mat_hypertable_id
                                     AND d.interval_length IS NOT NULL
LEFT JOIN LATERAL (
    SELECT array_agg(x.s ORDER BY x.s, x.n) AS schemas, array_agg(x.n ORDER BY x.s, x.n) AS names
    FROM (SELECT DISTINCT rn.nspname::text AS s, rc.relname::text AS n
          FROM pg_rewrite r
          JOIN pg_depend dep ON dep.classid = 'pg_rewrite'::regclass AND dep.objid = r.oid
                            AND dep.refclassid = 'pg_class'::regclass
          JOIN pg_class rc ON rc.oid = dep.refobjid
          JOIN pg_namespace rn ON rn.oid = rc.relnamespace
          WHERE r.ev_class = a.direct_oid AND r.rulename = '_RETURN'
            AND rc.oid <> a.direct_oid
            AND rc.relkind IN ('r', 'p', 'v', 'm', 'f')
            AND rn.nspname NOT IN ('pg_catalog', 'information_schema')
            AND NOT (rn.nspname = rh.schema_name AND rc.relname = rh.table_name)
            AND NOT (p.user_view_schema IS NOT NULL AND rn.nspname = p.user_view_schema
                     AND rc.relname = p.user_view_name)
            AND NOT EXISTS (SELECT 1 FROM pg_depend e
                            WHERE e.classid = 'pg_class'::regclass AND e.objid = rc.oid
                              AND e.deptype = 'e')) x
) o ON true
ORDER BY a.depth, a.user_view_schema, a.user_view_name
