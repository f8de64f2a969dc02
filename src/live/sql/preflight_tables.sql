-- Per moved table, in the order given: whether it exists, whether the connected role
-- owns it (FOR TABLE needs ownership; membership in the owning role counts, as in
-- PostgreSQL's own check), whether its replica identity lets UPDATE/DELETE be
-- decoded, and which publications already stream it or one of its children (a
-- hypertable's chunks are its pg_inherits children).
-- A replica identity is usable when it is FULL, USING INDEX with the index still
-- there, or DEFAULT with a primary key; NOTHING never is.
-- $1, $2: the tables' schemas and names, as parallel arrays.
WITH moved AS (
  SELECT t.schema_name, t.table_name, t.ord,
         to_regclass(quote_ident(t.schema_name) || '.' || quote_ident(t.table_name)) AS oid
    FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema_name, table_name, ord)
)
SELECT m.schema_name, m.table_name,
       c.oid IS NOT NULL AS found,
       coalesce(pg_has_role(current_user, c.relowner, 'USAGE'), false) AS owned,
       coalesce(c.relreplident::text, 'd') AS replident,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
         AS has_pk,
       coalesce(c.relreplident = 'f'
         OR (c.relreplident = 'i' AND EXISTS (SELECT 1 FROM pg_index i
                                               WHERE i.indrelid = c.oid AND i.indisreplident))
         OR (c.relreplident = 'd' AND EXISTS (SELECT 1 FROM pg_index i
                                               WHERE i.indrelid = c.oid AND i.indisprimary)),
         false) AS identity_ok,
       ARRAY(SELECT DISTINCT p.pubname::text
               FROM pg_publication_tables p
               JOIN pg_class pc ON pc.relname = p.tablename
               JOIN pg_namespace pn ON pn.oid = pc.relnamespace AND pn.nspname = p.schemaname
              WHERE pc.oid = c.oid
                 OR pc.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = c.oid)
              ORDER BY 1) AS publications
  FROM moved m
  LEFT JOIN pg_class c ON c.oid = m.oid
 ORDER BY m.ord
