-- A table's column-level grants ($1 = table oid): one row per column, grantee and
-- privilege. Grantee '' means PUBLIC. The owner's own entries are left out, as for
-- the table's grants. Table-level grants are not repeated here: attacl holds only
-- what was granted on the column itself.
SELECT a.attname::text AS column_name,
       CASE WHEN x.grantee = 0 THEN '' ELSE pg_get_userbyid(x.grantee)::text END AS grantee,
       x.privilege_type::text AS privilege,
       x.is_grantable AS grantable
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
CROSS JOIN LATERAL aclexplode(a.attacl) x
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
  AND x.grantee <> c.relowner
ORDER BY a.attnum, 2, 3
