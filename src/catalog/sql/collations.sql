-- Collations outside pg_catalog that a table uses ($1 = table oid), or the one named
-- $2.$3 ($1 = 0): what CREATE COLLATION needs to recreate each. pg_depend records a
-- column's collation (on the table, per column), an index's (indcollation and its
-- expressions), and those named in defaults, generated columns and CHECKs.
-- The provider's locale is `colllocale` since PostgreSQL 17 and `colliculocale`
-- before; to_jsonb reads whichever the server has. ICU tailoring rules
-- (`collicurules`) exist since PostgreSQL 16.
SELECT n.nspname::text AS schema,
       co.collname::text AS name,
       co.collprovider::text AS provider,
       coalesce(to_jsonb(co) ->> 'colllocale', to_jsonb(co) ->> 'colliculocale') AS locale,
       co.collcollate::text AS lc_collate,
       co.collctype::text AS lc_ctype,
       co.collisdeterministic AS deterministic,
       to_jsonb(co) ->> 'collicurules' AS rules
FROM pg_collation co
JOIN pg_namespace n ON n.oid = co.collnamespace
WHERE n.nspname <> 'pg_catalog'
  AND (co.oid IN (
          SELECT d.refobjid
          FROM pg_depend d
          WHERE d.refclassid = 'pg_collation'::regclass
            AND ((d.classid = 'pg_class'::regclass
                  AND (d.objid = $1 OR d.objid IN (SELECT indexrelid FROM pg_index WHERE indrelid = $1)))
              OR (d.classid = 'pg_attrdef'::regclass
                  AND d.objid IN (SELECT oid FROM pg_attrdef WHERE adrelid = $1))
              OR (d.classid = 'pg_constraint'::regclass
                  AND d.objid IN (SELECT oid FROM pg_constraint WHERE conrelid = $1))))
       OR (n.nspname = $2::text AND co.collname = $3::text))
ORDER BY 1, 2
