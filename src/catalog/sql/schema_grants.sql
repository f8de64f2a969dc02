-- The grants on a schema ($1 = its name) to roles other than its owner: who may use
-- (or create in) the schema a table lives in. Grantee '' means PUBLIC.
SELECT ARRAY(SELECT format('%s|%s|%s',
                           CASE WHEN a.grantee = 0 THEN '' ELSE pg_get_userbyid(a.grantee)::text END,
                           a.privilege_type, a.is_grantable)
             FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
             WHERE a.grantee <> n.nspowner
             ORDER BY 1) AS grants
FROM pg_namespace n
WHERE n.nspname = $1::text
