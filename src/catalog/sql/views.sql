-- Plain and materialized views that read any of the given tables ($1 = their oids),
-- directly or through other such views: the transitive closure of their readers.
-- TimescaleDB's continuous aggregates ($2 = the oids of their user, partial and
-- direct views) are never part of it, nor are the views of the server's, of
-- TimescaleDB's and of every extension's own schemas: those are not user views. But
-- views over the continuous aggregates on the tables ($3 = their user views) are:
-- the plan names them as views that cannot move.
--
-- Per view, `reads` holds every relation its query names (pg_depend of its _RETURN
-- rule) except the server's catalogs and extensions' members, and `read_labels` says
-- what each is ("table app.t", "continuous aggregate cagg.x"), for the plan's words.
-- `types` are the user types its columns and query use (arrays as their element);
-- `extensions` those whose members (functions, operators, types, relations) it uses.
-- The session runs with search_path = pg_catalog, so pg_get_viewdef qualifies every
-- name outside pg_catalog: the text resolves the same way on the target.
WITH RECURSIVE candidates AS (
    SELECT c.oid
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('v', 'm')
      AND c.oid <> ALL ($2::oid[])
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_%'
      AND n.nspname NOT LIKE '\_timescaledb%'
      AND n.nspname NOT LIKE 'timescaledb\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend e
                      WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid
                        AND e.deptype = 'e')
),
-- What each candidate reads. Only candidates: the server's and extensions' own views
-- are many, and their rules' dependencies would be most of the work.
reads AS (
    SELECT DISTINCT r.ev_class AS viewer, d.refobjid AS read
    FROM pg_rewrite r
    JOIN candidates c ON c.oid = r.ev_class
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                    AND d.refclassid = 'pg_class'::regclass
    WHERE r.rulename = '_RETURN' AND d.refobjid <> r.ev_class
),
closure(oid) AS (
    SELECT r.viewer
    FROM reads r JOIN candidates c ON c.oid = r.viewer
    WHERE r.read = ANY ($1::oid[]) OR r.read = ANY ($3::oid[])
  UNION
    SELECT r.viewer
    FROM reads r
    JOIN candidates c ON c.oid = r.viewer
    JOIN closure ON closure.oid = r.read
),
-- Every object the view and its rule depend on, with the extension it belongs to.
uses AS (
    SELECT v.oid AS viewer, d.refclassid, d.refobjid, x.extname::text AS extension
    FROM closure v
    JOIN pg_depend d ON (d.classid = 'pg_class'::regclass AND d.objid = v.oid)
                     OR (d.classid = 'pg_rewrite'::regclass
                         AND d.objid IN (SELECT oid FROM pg_rewrite WHERE ev_class = v.oid))
    LEFT JOIN pg_depend e ON e.classid = d.refclassid AND e.objid = d.refobjid
                         AND e.deptype = 'e' AND e.refclassid = 'pg_extension'::regclass
    LEFT JOIN pg_extension x ON x.oid = e.refobjid
    WHERE d.deptype = 'n'
),
-- What each view reads that is neither a catalog of the server's nor an extension's.
user_reads AS (
    SELECT r.viewer, r.read,
           CASE WHEN r.read = ANY ($2::oid[]) THEN 'continuous aggregate'
                WHEN c.relkind = 'v' THEN 'view'
                WHEN c.relkind = 'm' THEN 'materialized view'
                WHEN c.relkind IN ('r', 'p') THEN 'table'
                WHEN c.relkind = 'f' THEN 'foreign table'
                WHEN c.relkind = 'S' THEN 'sequence'
                ELSE 'relation' END
           || ' ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS label
    FROM reads r
    JOIN closure v ON v.oid = r.viewer
    JOIN pg_class c ON c.oid = r.read
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND NOT EXISTS (SELECT 1 FROM pg_depend e
                      WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid
                        AND e.deptype = 'e')
),
-- The user types it uses: not the server's, not an extension's, not a table's row type.
user_types AS (
    SELECT DISTINCT x.viewer, tn.nspname::text AS schema, t.typname::text AS name
    FROM uses x
    JOIN pg_type t0 ON t0.oid = x.refobjid
    JOIN pg_type t ON t.oid = CASE WHEN t0.typcategory = 'A' AND t0.typelem <> 0
                                   THEN t0.typelem ELSE t0.oid END
    JOIN pg_namespace tn ON tn.oid = t.typnamespace
    WHERE x.refclassid = 'pg_type'::regclass AND t.typrelid = 0
      AND tn.nspname NOT IN ('pg_catalog', 'information_schema')
      AND NOT EXISTS (SELECT 1 FROM pg_depend e
                      WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid
                        AND e.deptype = 'e')
)
SELECT v.oid,
       n.nspname::text AS schema,
       v.relname::text AS name,
       v.relkind = 'm' AS materialized,
       v.relispopulated AS populated,
       pg_get_viewdef(v.oid, true) AS definition,
       coalesce(v.reloptions, '{}')::text[] AS options,
       ARRAY(SELECT u.read FROM user_reads u WHERE u.viewer = v.oid ORDER BY u.read) AS reads,
       ARRAY(SELECT u.label FROM user_reads u WHERE u.viewer = v.oid ORDER BY u.read) AS read_labels,
       ARRAY(SELECT DISTINCT x.extension FROM uses x
             WHERE x.viewer = v.oid AND x.extension IS NOT NULL ORDER BY 1) AS extensions,
       ARRAY(SELECT t.schema FROM user_types t WHERE t.viewer = v.oid
             ORDER BY t.schema, t.name) AS type_schemas,
       ARRAY(SELECT t.name FROM user_types t WHERE t.viewer = v.oid
             ORDER BY t.schema, t.name) AS type_names
FROM closure
JOIN pg_class v ON v.oid = closure.oid
JOIN pg_namespace n ON n.oid = v.relnamespace
ORDER BY 2, 3
