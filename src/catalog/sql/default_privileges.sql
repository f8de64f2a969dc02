-- Default privileges (pg_default_acl): those of schema $1 (any role), and the
-- database-wide ones (defaclnamespace = 0) of the roles in $2. One row per grantee
-- and privilege; grantee '' means PUBLIC.
--
-- A schema's entry only adds privileges, so its ACL is read as it is. A
-- database-wide entry replaces the built-in defaults (acldefault) of its kind, and can
-- take some away (REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC): it is read as its
-- difference from them, `revoked` marking what it takes away. (acldefault names
-- sequences 's', pg_default_acl 'S'.)
WITH entries AS (
    SELECT d.defaclrole, d.defaclnamespace, d.defaclobjtype, d.defaclacl,
           n.nspname::text AS schema
    FROM pg_default_acl d
    LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
    WHERE (d.defaclnamespace <> 0 AND n.nspname = $1::text)
       OR (d.defaclnamespace = 0 AND pg_get_userbyid(d.defaclrole)::text = ANY ($2::text[]))
),
exploded AS (
    SELECT e.defaclrole, e.schema, e.defaclobjtype, x.grantee, x.privilege_type, x.is_grantable,
           false AS revoked
    FROM entries e CROSS JOIN LATERAL aclexplode(e.defaclacl) x
    WHERE e.defaclnamespace <> 0
       OR (x.grantee, x.privilege_type, x.is_grantable) NOT IN (
              SELECT b.grantee, b.privilege_type, b.is_grantable
              FROM aclexplode(acldefault(CASE e.defaclobjtype WHEN 'S' THEN 's' ELSE e.defaclobjtype END,
                                         e.defaclrole)) b)
  UNION ALL
    SELECT e.defaclrole, e.schema, e.defaclobjtype, b.grantee, b.privilege_type, b.is_grantable,
           true AS revoked
    FROM entries e
    CROSS JOIN LATERAL aclexplode(acldefault(CASE e.defaclobjtype WHEN 'S' THEN 's' ELSE e.defaclobjtype END,
                                             e.defaclrole)) b
    WHERE e.defaclnamespace = 0
      AND (b.grantee, b.privilege_type, b.is_grantable) NOT IN (
              SELECT x.grantee, x.privilege_type, x.is_grantable FROM aclexplode(e.defaclacl) x)
)
SELECT pg_get_userbyid(defaclrole)::text AS role,
       schema,
       defaclobjtype::text AS objtype,
       CASE WHEN grantee = 0 THEN '' ELSE pg_get_userbyid(grantee)::text END AS grantee,
       privilege_type::text AS privilege,
       is_grantable AS grantable,
       revoked
FROM exploded
ORDER BY 1, 2 NULLS FIRST, 3, 4, 5, 6, 7
