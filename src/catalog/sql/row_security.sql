-- Whether row-level security is enabled and forced on a table. $1 = table OID.
SELECT c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
FROM pg_class c
WHERE c.oid = $1
