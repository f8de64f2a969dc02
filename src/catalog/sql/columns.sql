-- Live columns of a table in order ($1 = table oid). Dropped columns are skipped,
-- which is why every COPY names its columns.
--
-- binary_ok says whether the binary COPY format can carry the column to another
-- database: arrays and composites embed type OIDs, and user-defined OIDs differ
-- between databases, so those columns (and types without send/receive) go as text.
SELECT a.attname::text AS name,
       format_type(a.atttypid, a.atttypmod) AS type_sql,
       a.atttypid::oid AS type_oid,
       a.attnotnull AS not_null,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default_expr,
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated_expr,
       a.attgenerated::text AS generated_kind,
       a.attidentity::text AS identity,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
            THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                  FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                  WHERE co.oid = a.attcollation) END AS collation_sql,
       (bt.typsend <> 0 AND bt.typreceive <> 0
        AND bt.typtype <> 'c'
        AND NOT (bt.typelem <> 0 AND bt.typsubscript = 'array_subscript_handler'::regproc
                 AND (bt.typelem >= 16384 OR et.typtype = 'c'))) AS binary_ok
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
-- look through one level of domain to the type that is actually sent
JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_type et ON et.oid = bt.typelem
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
