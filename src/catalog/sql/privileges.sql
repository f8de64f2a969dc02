-- What the connected role may do here. $1 = tables (oids) to be read, $2 = schemas
-- that would be written into (those that exist).
SELECT current_user::text AS role,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       has_database_privilege(current_database(), 'CREATE') AS create_in_database,
       ARRAY(SELECT format('%s.%s', quote_ident(n.nspname), quote_ident(c.relname))
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = ANY ($1::oid[]) AND NOT has_table_privilege(c.oid, 'SELECT')
             ORDER BY 1) AS unreadable_tables,
       -- Tables whose row-level security applies to this role: a read would see
       -- only what the policies allow. Superusers and BYPASSRLS roles are exempt,
       -- and so is the owner unless the table forces row security on it too.
       ARRAY(SELECT format('%s.%s', quote_ident(n.nspname), quote_ident(c.relname))
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = ANY ($1::oid[]) AND c.relrowsecurity
               AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user)
               AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))
             ORDER BY 1) AS rls_filtered_tables,
       ARRAY(SELECT s FROM unnest($2::text[]) AS s
             -- CASE, not AND: has_schema_privilege errors on a schema that does not exist
             WHERE CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = s)
                        THEN NOT has_schema_privilege(s, 'CREATE') ELSE false END
             ORDER BY 1) AS unwritable_schemas
