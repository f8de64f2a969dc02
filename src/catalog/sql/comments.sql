-- Comments on a table and its columns ($1 = table oid); column NULL for the table's.
SELECT NULL::text AS column_name, obj_description($1, 'pg_class') AS comment
WHERE obj_description($1, 'pg_class') IS NOT NULL
UNION ALL
SELECT a.attname::text, col_description($1, a.attnum)
FROM pg_attribute a
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
  AND col_description($1, a.attnum) IS NOT NULL
ORDER BY 1 NULLS FIRST
