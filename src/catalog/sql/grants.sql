-- A table's owner and its table-level grants ($1 = table oid). Grantee NULL means PUBLIC.
SELECT pg_get_userbyid(c.relowner)::text AS owner,
       ARRAY(SELECT format('%s|%s|%s',
                           CASE WHEN a.grantee = 0 THEN '' ELSE pg_get_userbyid(a.grantee)::text END,
                           a.privilege_type, a.is_grantable)
             FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
             WHERE a.grantee <> c.relowner
             ORDER BY 1) AS grants
FROM pg_class c
WHERE c.oid = $1
