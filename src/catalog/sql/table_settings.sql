-- A table's storage settings ($1 = table OID): its reloptions and its TOAST table's
-- (as `toast.` options), and its replica identity with the index it uses.
SELECT coalesce(c.reloptions, '{}')::text[] AS reloptions,
       coalesce(t.reloptions, '{}')::text[] AS toast_reloptions,
       c.relreplident::text AS replica_identity,
       (SELECT ic.relname::text
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         WHERE i.indrelid = c.oid AND i.indisreplident) AS replica_index
FROM pg_class c
LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
WHERE c.oid = $1
