-- Sequences owned by a table's columns ($1 = table oid): serial columns and identity
-- columns. Their definition, and where they stand now, so the target continues
-- after the source's last value.
SELECT a.attname::text AS column_name,
       sn.nspname::text AS schema,
       s.relname::text AS name,
       d.deptype::text AS dep,
       format_type(sq.seqtypid, NULL) AS data_type,
       sq.seqstart AS start_value, sq.seqincrement AS increment_by,
       sq.seqmin AS min_value, sq.seqmax AS max_value,
       sq.seqcache AS cache_size, sq.seqcycle AS cycle,
       ps.last_value AS last_value
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_sequence sq ON sq.seqrelid = s.oid
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
LEFT JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = s.relname
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.refobjid = $1 AND d.deptype IN ('a', 'i')
ORDER BY a.attnum
