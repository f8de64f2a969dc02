-- The chunk schemas of the moved hypertables ($1 schemas, $2 names, pairwise): each
-- one's associated schema and the schema of every chunk it has now. A live move
-- publishes them FOR TABLES IN SCHEMA, so chunks created after the slot are streamed.
SELECT DISTINCT s FROM (
    SELECT h.associated_schema_name::text AS s
      FROM _timescaledb_catalog.hypertable h
      JOIN unnest($1::text[], $2::text[]) AS m(sch, tab)
        ON h.schema_name = m.sch AND h.table_name = m.tab
    UNION
    SELECT c.schema_name::text
      FROM _timescaledb_catalog.chunk c
      JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id
      JOIN unnest($1::text[], $2::text[]) AS m(sch, tab)
        ON h.schema_name = m.sch AND h.table_name = m.tab
) x
ORDER BY 1
