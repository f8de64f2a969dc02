-- Sequences a table's column defaults draw from ($1 = table oid) that the column does
-- not own (`CREATE SEQUENCE` on its own, then `DEFAULT nextval('seq')`, or another
-- column's serial): their definition, where they stand now, and the column that owns
-- them, if any (OWNED BY). A column's own sequence is read by sequences.sql instead.
SELECT DISTINCT ON (a.attnum)
       a.attname::text AS column_name,
       sn.nspname::text AS schema,
       s.relname::text AS name,
       format_type(sq.seqtypid, NULL) AS data_type,
       sq.seqstart AS start_value, sq.seqincrement AS increment_by,
       sq.seqmin AS min_value, sq.seqmax AS max_value,
       sq.seqcache AS cache_size, sq.seqcycle AS cycle,
       ps.last_value AS last_value,
       own.schema AS owner_schema, own.name AS owner_table, own.column_name AS owner_column
FROM pg_attrdef ad
JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum AND NOT a.attisdropped
JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                AND d.refclassid = 'pg_class'::regclass
JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_sequence sq ON sq.seqrelid = s.oid
LEFT JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = s.relname
LEFT JOIN LATERAL (
    SELECT o.refobjid AS rel, o.refobjsubid AS attnum, o.deptype,
           tn.nspname::text AS schema, t.relname::text AS name, oa.attname::text AS column_name
    FROM pg_depend o
    JOIN pg_class t ON t.oid = o.refobjid
    JOIN pg_namespace tn ON tn.oid = t.relnamespace
    JOIN pg_attribute oa ON oa.attrelid = o.refobjid AND oa.attnum = o.refobjsubid
    WHERE o.classid = 'pg_class'::regclass AND o.objid = s.oid
      AND o.refclassid = 'pg_class'::regclass AND o.deptype IN ('a', 'i')
) own ON true
WHERE ad.adrelid = $1
  AND NOT (own.rel IS NOT NULL AND own.rel = $1 AND own.attnum = a.attnum)
ORDER BY a.attnum, sn.nspname, s.relname
