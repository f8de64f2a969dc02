-- TimescaleDB's continuous aggregates ($1 = oids of the moved tables): `oids`, the
-- views of every one (its user view and its partial and direct views), which are
-- never plain views to move; `over`, the user views of those over the moved tables,
-- directly or through other aggregates (hierarchical), so that the views over them
-- are found too. Asked only where TimescaleDB is installed (the catalog is its).
WITH RECURSIVE v AS (
    SELECT to_regclass(format('%I.%I', v.s, v.n))::oid AS oid
    FROM _timescaledb_catalog.continuous_agg ca,
         LATERAL (VALUES (ca.user_view_schema, ca.user_view_name),
                         (ca.partial_view_schema, ca.partial_view_name),
                         (ca.direct_view_schema, ca.direct_view_name)) AS v(s, n)
),
tree AS (
    SELECT ca.mat_hypertable_id, ca.user_view_schema, ca.user_view_name
    FROM _timescaledb_catalog.continuous_agg ca
    JOIN _timescaledb_catalog.hypertable h ON h.id = ca.raw_hypertable_id
    WHERE to_regclass(format('%I.%I', h.schema_name, h.table_name))::oid = ANY ($1::oid[])
  UNION
    SELECT ca.mat_hypertable_id, ca.user_view_schema, ca.user_view_name
    FROM _timescaledb_catalog.continuous_agg ca
    JOIN tree ON ca.raw_hypertable_id = tree.mat_hypertable_id
)
SELECT ARRAY(SELECT oid FROM v WHERE oid IS NOT NULL ORDER BY 1) AS oids,
       ARRAY(SELECT o FROM (SELECT to_regclass(format('%I.%I', user_view_schema, user_view_name))::oid AS o
                            FROM tree) t
             WHERE o IS NOT NULL ORDER BY 1) AS over
