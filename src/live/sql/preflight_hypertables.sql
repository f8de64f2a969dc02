-- The moved tables that are hypertables, from TimescaleDB's catalog (run only when
-- the extension is installed): the schema new chunks are created in (it must be in
-- the publication schema-wide: chunks made after the slot join no FOR TABLE list
-- before 2.25), the schemas existing chunks live in (its
-- pg_inherits children: the chunk catalog's columns differ across versions), whether compression is on, and
-- the scheduled retention policy's job that would drop chunks during the follow, if any (drop_chunks streams
-- no row change).
-- $1, $2: the tables' schemas and names, as parallel arrays.
SELECT h.schema_name::text, h.table_name::text,
       ARRAY(SELECT DISTINCT s FROM unnest(
               ARRAY[h.associated_schema_name::text]
               || ARRAY(SELECT c.relnamespace::regnamespace::text
                          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                         WHERE i.inhparent = format('%I.%I', h.schema_name, h.table_name)::regclass))
               s ORDER BY 1) AS chunk_schemas,
       coalesce(i.compression_enabled, false) AS compressed,
       (SELECT min(j.id) FROM _timescaledb_config.bgw_job j
         WHERE j.hypertable_id = h.id AND j.proc_name = 'policy_retention'
           AND j.scheduled) AS retention_job
  FROM _timescaledb_catalog.hypertable h
  JOIN unnest($1::text[], $2::text[]) AS t(schema_name, table_name)
    ON h.schema_name = t.schema_name AND h.table_name = t.table_name
  -- The public view: 2.29 no longer links a compressed hypertable in the catalog.
  LEFT JOIN timescaledb_information.hypertables i
    ON i.hypertable_schema = h.schema_name AND i.hypertable_name = h.table_name
 ORDER BY 1, 2
