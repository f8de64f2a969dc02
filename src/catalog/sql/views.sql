-- Plain views over any of the given tables ($1 = their oids), with every relation
-- each view reads, so the plan can tell whether a view depends on moved tables only.
SELECT n.nspname::text AS schema,
       v.relname::text AS name,
       pg_get_viewdef(v.oid, true) AS definition,
       ARRAY(SELECT DISTINCT d.refobjid::oid
             FROM pg_rewrite r
             JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                             AND d.refclassid = 'pg_class'::regclass
             WHERE r.ev_class = v.oid AND d.refobjid <> v.oid
             ORDER BY 1) AS reads
FROM pg_class v
JOIN pg_namespace n ON n.oid = v.relnamespace
WHERE v.relkind = 'v'
  AND EXISTS (SELECT 1 FROM pg_rewrite r
              JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                              AND d.refclassid = 'pg_class'::regclass
              WHERE r.ev_class = v.oid AND d.refobjid = ANY ($1::oid[]))
ORDER BY 1, 2
