-- Table constraints ($1 = table oid): primary key, unique, check, exclusion and
-- foreign keys. NOT NULL (which PostgreSQL 18 also lists here) travels with the column.
-- Foreign keys come with their parts so the referenced table can be renamed.
SELECT c.conname::text AS name,
       c.contype::text AS kind,
       pg_get_constraintdef(c.oid, true) AS definition,
       ARRAY(SELECT a.attname::text
             FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord) AS columns,
       rn.nspname::text AS ref_schema,
       rc.relname::text AS ref_table,
       ARRAY(SELECT a.attname::text
             FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord) AS ref_columns,
       c.confupdtype::text AS on_update,
       c.confdeltype::text AS on_delete,
       c.confmatchtype::text AS match_type,
       c.condeferrable AS deferrable,
       c.condeferred AS deferred
FROM pg_constraint c
LEFT JOIN pg_class rc ON rc.oid = c.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE c.conrelid = $1 AND c.contype IN ('p', 'u', 'c', 'f', 'x')
ORDER BY c.conname
