-- Columns whose storage, compression or statistics target differ from the default
-- ($1 = table OID). storage is set only when it differs from the type's own;
-- attstattarget is NULL (PostgreSQL 17+) or -1 (before) for the default.
SELECT a.attname::text AS name,
       CASE WHEN a.attstorage <> ty.typstorage THEN a.attstorage::text END AS storage,
       nullif(a.attcompression::text, '') AS compression,
       CASE WHEN a.attstattarget::int4 >= 0 THEN a.attstattarget::int4 END AS statistics
FROM pg_attribute a
JOIN pg_type ty ON ty.oid = a.atttypid
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
  AND (a.attstorage <> ty.typstorage OR a.attcompression <> '' OR a.attstattarget::int4 >= 0)
ORDER BY a.attnum
