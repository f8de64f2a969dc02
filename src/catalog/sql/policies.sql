-- The row-level security policies of a table, by name. $1 = table OID.
-- Roles keep their order; OID 0 is PUBLIC (returned as ''). Expressions are rendered
-- with schema-qualified names (the session's search_path is pg_catalog).
-- other_tables: relations other than the table itself that the expressions read
-- (a sub-select), from pg_depend.
SELECT p.polname::text AS name,
       p.polpermissive AS permissive,
       p.polcmd::text AS command,
       ARRAY(
           SELECT CASE WHEN u.r = 0 THEN '' ELSE (SELECT a.rolname::text FROM pg_roles a WHERE a.oid = u.r) END
           FROM unnest(p.polroles) WITH ORDINALITY AS u(r, i)
           ORDER BY u.i
       ) AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr,
       ARRAY(
           SELECT DISTINCT d.refobjid::regclass::text
           FROM pg_depend d
           WHERE d.classid = 'pg_policy'::regclass AND d.objid = p.oid
             AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> p.polrelid
           ORDER BY 1
       ) AS other_tables
FROM pg_policy p
WHERE p.polrelid = $1
ORDER BY p.polname
