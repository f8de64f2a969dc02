-- User-defined types a table's columns need ($1 = table oid), with what it takes to
-- recreate them: enum labels in order, a domain's base type, default, NOT NULL and
-- CHECKs, a composite's attributes. Arrays and domains are followed down to what
-- they are made of. `depth` orders creation: deeper types first.
-- Types that belong to an extension are reported with `extension` instead.
WITH RECURSIVE needed(oid, depth) AS (
    SELECT a.atttypid, 0
    FROM pg_attribute a
    WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
  UNION
    SELECT n2.oid, needed.depth + 1
    FROM needed
    JOIN pg_type t ON t.oid = needed.oid
    CROSS JOIN LATERAL (
        SELECT t.typelem AS oid WHERE t.typelem <> 0 AND t.typsubscript = 'array_subscript_handler'::regproc
        UNION ALL SELECT t.typbasetype WHERE t.typtype = 'd'
        UNION ALL SELECT a.atttypid FROM pg_attribute a
                  WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
    ) AS n2
    WHERE needed.depth < 20
),
-- Domain constraints that call a function outside the system and the extensions.
calls_user_functions(oid) AS (
    SELECT d.objid
    FROM pg_depend d
    JOIN pg_proc p ON p.oid = d.refobjid
    JOIN pg_namespace pn ON pn.oid = p.pronamespace
    WHERE d.classid = 'pg_constraint'::regclass AND d.refclassid = 'pg_proc'::regclass
      AND pn.nspname NOT IN ('pg_catalog', 'information_schema')
      AND NOT EXISTS (SELECT 1 FROM pg_depend e
                      WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
)
SELECT n.nspname::text AS schema,
       t.typname::text AS name,
       t.typtype::text AS kind,
       max(needed.depth) AS depth,
       ext.extname AS extension,
       ARRAY(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = t.oid ORDER BY enumsortorder) AS labels,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
       t.typnotnull AS not_null,
       t.typdefault AS default_expr,
       ARRAY(SELECT format('CONSTRAINT %s %s', quote_ident(c.conname), pg_get_constraintdef(c.oid, true))
             FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'
               AND NOT EXISTS (SELECT 1 FROM calls_user_functions u WHERE u.oid = c.oid)
             ORDER BY c.conname) AS checks,
       -- CHECKs that call user functions: added once those exist (see functions.sql).
       ARRAY(SELECT format('CONSTRAINT %s %s', quote_ident(c.conname), pg_get_constraintdef(c.oid, true))
             FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'
               AND EXISTS (SELECT 1 FROM calls_user_functions u WHERE u.oid = c.oid)
             ORDER BY c.conname) AS late_checks,
       ARRAY(SELECT format('%s %s', quote_ident(a.attname), format_type(a.atttypid, a.atttypmod))
             FROM pg_attribute a
             WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum) AS attributes
FROM needed
JOIN pg_type t ON t.oid = needed.oid
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN LATERAL (
    SELECT e.extname::text AS extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
    WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
) ext ON true
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND (ext.extname IS NOT NULL OR t.typtype IN ('e', 'd', 'c'))
  AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
GROUP BY n.nspname, t.typname, t.typtype, t.oid, t.typbasetype, t.typtypmod, t.typnotnull, t.typdefault, ext.extname
ORDER BY max(needed.depth) DESC, 1, 2
