-- Sequences a table's column defaults draw from ($1 = table oid) that no column owns
-- (`CREATE SEQUENCE` on its own, then `DEFAULT nextval('seq')`): their definition and
-- where they stand now. Sequences owned by a column (serial, identity, OWNED BY) are
-- read by sequences.sql with their owner instead.
SELECT DISTINCT ON (a.attnum)
       a.attname::text AS column_name,
       sn.nspname::text AS schema,
       s.relname::text AS name,
       format_type(sq.seqtypid, NULL) AS data_type,
       sq.seqstart AS start_value, sq.seqincrement AS increment_by,
       sq.seqmin AS min_value, sq.seqmax AS max_value,
       sq.seqcache AS cache_size, sq.seqcycle AS cycle,
       ps.last_value AS last_value
FROM pg_attrdef ad
JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum AND NOT a.attisdropped
JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                AND d.refclassid = 'pg_class'::regclass
JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_sequence sq ON sq.seqrelid = s.oid
LEFT JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = s.relname
WHERE ad.adrelid = $1
  AND NOT EXISTS (SELECT 1 FROM pg_depend o
                  WHERE o.classid = 'pg_class'::regclass AND o.objid = s.oid
                    AND o.refclassid = 'pg_class'::regclass AND o.deptype IN ('a', 'i'))
ORDER BY a.attnum, sn.nspname, s.relname
