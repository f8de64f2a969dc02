-- Where a table ($1 = table oid) and its indexes are stored, when not in the
-- database's default tablespace (reltablespace 0). An index that backs a primary
-- key, unique or exclusion constraint is named by its constraint, which creates it.
SELECT 'table' AS kind, c.relname::text AS name, s.spcname::text AS tablespace
FROM pg_class c
JOIN pg_tablespace s ON s.oid = c.reltablespace
WHERE c.oid = $1
UNION ALL
SELECT CASE WHEN con.oid IS NULL THEN 'index' ELSE 'constraint' END,
       coalesce(con.conname, ic.relname)::text,
       s.spcname::text
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_tablespace s ON s.oid = ic.reltablespace
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
                           AND con.contype IN ('p', 'u', 'x')
WHERE i.indrelid = $1
ORDER BY 1 DESC, 2
