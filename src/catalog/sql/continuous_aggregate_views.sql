-- TimescaleDB's continuous aggregates ($1 = oids of the moved tables): `oids`, the
-- views of every one (its user view and its partial and direct views), which are
-- never plain views to move; `over`, the user views of those over the moved tables,
-- so that the views over them are named too. Asked only where TimescaleDB is
-- installed (the catalog is its).
WITH v AS (
    SELECT to_regclass(format('%I.%I', v.s, v.n))::oid AS oid, v.user_view,
           to_regclass(format('%I.%I', h.schema_name, h.table_name))::oid AS raw
    FROM _timescaledb_catalog.continuous_agg ca
    JOIN _timescaledb_catalog.hypertable h ON h.id = ca.raw_hypertable_id,
         LATERAL (VALUES (ca.user_view_schema, ca.user_view_name, true),
                         (ca.partial_view_schema, ca.partial_view_name, false),
                         (ca.direct_view_schema, ca.direct_view_name, false)) AS v(s, n, user_view)
)
SELECT ARRAY(SELECT oid FROM v WHERE oid IS NOT NULL ORDER BY 1) AS oids,
       ARRAY(SELECT oid FROM v WHERE oid IS NOT NULL AND user_view AND raw = ANY ($1::oid[])
             ORDER BY 1) AS over
