-- Extended statistics objects on a table ($1 = table OID), by name. `columns` is what
-- follows ON in CREATE STATISTICS (columns and expressions, table-independent), so
-- the object can be recreated on a renamed table. `kinds` leaves out `e` (expression
-- statistics, implied by expressions and never written). `target` is the object's
-- SET STATISTICS, NULL (PostgreSQL 17+) or -1 (before) for the default.
SELECT s.stxname::text AS name,
       ARRAY(SELECT k::text FROM unnest(s.stxkind) k WHERE k <> 'e') AS kinds,
       pg_get_statisticsobjdef_columns(s.oid) AS columns,
       CASE WHEN s.stxstattarget::int4 >= 0 THEN s.stxstattarget::int4 END AS target
FROM pg_statistic_ext s
WHERE s.stxrelid = $1
ORDER BY s.stxname
