-- User functions a table or view needs ($1 = its oid, or 0; $2 = further functions as
-- `schema.name`, quoted as quote_ident does, or a bare name found in the search path:
-- its hypertable's integer_now_func and partitioning functions, those a spec names),
-- and the functions those call, with `depth` ordering
-- creation (callees first).
-- pg_depend records what column defaults, generated columns (both in pg_attrdef),
-- CHECK constraints, index expressions/predicates, triggers, row-level security
-- policies, extended statistics expressions and the CHECKs of the columns' domains
-- call. Between functions it
-- records the calls of SQL-standard bodies (BEGIN ATOMIC / RETURN expr) only: a
-- plpgsql body, or an SQL body given as a string, is not parsed at creation, so what
-- it calls is not recorded anywhere and cannot be followed here.
-- Functions of pg_catalog, information_schema, TimescaleDB's schemas and every
-- extension's members are the server's or the extension's: never moved.
WITH RECURSIVE types(oid, depth) AS (
    -- The types the columns use, down through arrays and domains: the CHECKs of
    -- those domains may call functions too.
    SELECT a.atttypid, 0 FROM pg_attribute a
    WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
  UNION
    SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END, types.depth + 1
    FROM types JOIN pg_type t ON t.oid = types.oid
    WHERE (t.typtype = 'd' OR t.typelem <> 0) AND types.depth < 20
),
seeds(oid) AS (
    SELECT d.refobjid
    FROM pg_depend d
    WHERE d.refclassid = 'pg_proc'::regclass
      AND ((d.classid = 'pg_class'::regclass
            AND (d.objid = $1 OR d.objid IN (SELECT indexrelid FROM pg_index WHERE indrelid = $1)))
        OR (d.classid = 'pg_attrdef'::regclass
            AND d.objid IN (SELECT oid FROM pg_attrdef WHERE adrelid = $1))
        OR (d.classid = 'pg_constraint'::regclass
            AND d.objid IN (SELECT oid FROM pg_constraint WHERE conrelid = $1))
        OR (d.classid = 'pg_policy'::regclass
            AND d.objid IN (SELECT oid FROM pg_policy WHERE polrelid = $1))
        OR (d.classid = 'pg_statistic_ext'::regclass
            AND d.objid IN (SELECT oid FROM pg_statistic_ext WHERE stxrelid = $1))
        OR (d.classid = 'pg_constraint'::regclass
            AND d.objid IN (SELECT c.oid FROM pg_constraint c JOIN types ON c.contypid = types.oid))
        -- The functions its user triggers execute or call in their WHEN conditions
        -- (TimescaleDB's own triggers' functions are its members: left out below).
        OR (d.classid = 'pg_trigger'::regclass
            AND d.objid IN (SELECT oid FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal))
        -- A view's query (only views have a _RETURN rule).
        OR (d.classid = 'pg_rewrite'::regclass
            AND d.objid IN (SELECT oid FROM pg_rewrite WHERE ev_class = $1 AND rulename = '_RETURN')))
  UNION
    SELECT p.oid
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE quote_ident(n.nspname) || '.' || quote_ident(p.proname) = ANY($2::text[])
       OR (p.proname = ANY($2::text[]) AND n.nspname = ANY(current_schemas(false)))
),
needed(oid, depth) AS (
    SELECT oid, 0 FROM seeds
  UNION
    SELECT d.refobjid, needed.depth + 1
    FROM needed
    JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = needed.oid
                    AND d.refclassid = 'pg_proc'::regclass
    WHERE needed.depth < 20
)
SELECT n.nspname::text AS schema,
       p.proname::text AS name,
       oidvectortypes(p.proargtypes) AS args,
       l.lanname::text AS language,
       pg_get_functiondef(p.oid) AS definition,
       max(needed.depth) AS depth
FROM needed
JOIN pg_proc p ON p.oid = needed.oid
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_%'
  AND n.nspname NOT LIKE '\_timescaledb\_%'
  AND n.nspname NOT LIKE 'timescaledb\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
GROUP BY n.nspname, p.proname, p.oid, l.lanname
ORDER BY max(needed.depth) DESC, 1, 2, 3
