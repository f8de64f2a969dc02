-- Which of the given names ($1 = schemas, $2 = names, pairwise) are taken in their
-- schema by a relation of any kind (table, index, sequence, view) or by an extended
-- statistics object: the names an index or a statistics object cannot be created under.
SELECT x.s AS schema, x.n AS name
FROM unnest($1::text[], $2::text[]) AS x(s, n)
WHERE EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
              WHERE ns.nspname = x.s AND c.relname = x.n)
   OR EXISTS (SELECT 1 FROM pg_statistic_ext st JOIN pg_namespace ns ON ns.oid = st.stxnamespace
              WHERE ns.nspname = x.s AND st.stxname = x.n)
ORDER BY 1, 2
