-- User triggers on a table ($1 = table oid), in the parts CREATE TRIGGER is written
-- from (catalog/triggers.rs renders them back).
-- Never TimescaleDB's own (ts_insert_blocker, ts_cagg_invalidation_trigger: their
-- functions are its members and live in its schemas), never the server's internal
-- ones (tgisinternal: the RI triggers of foreign keys, among others), never a
-- foreign key's, never an extension's member.
-- The q_* columns are the same names quoted as pg_get_triggerdef quotes them
-- (quote_ident quotes only where needed; a function of pg_catalog, the search path,
-- goes unqualified), so that the parts can be checked against `definition`.
-- names_row_type: the WHEN condition depends on the table's row type (a cast to
-- it), which it names by the source name.
SELECT t.tgname::text AS name,
       t.tgtype::int2 AS tgtype,
       t.tgenabled::text AS enabled,
       ARRAY(SELECT a.attname::text
             FROM unnest(t.tgattr::int2[]) WITH ORDINALITY AS u(attnum, i)
             JOIN pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = u.attnum
             ORDER BY u.i) AS columns,
       t.tgoldtable::text AS old_table,
       t.tgnewtable::text AS new_table,
       t.tgqual IS NOT NULL AS has_when,
       fn.nspname::text AS function_schema,
       p.proname::text AS function_name,
       t.tgnargs::int4 AS nargs,
       t.tgargs AS args,
       t.tgconstraint <> 0 AS is_constraint,
       t.tgdeferrable AS deferrable,
       t.tginitdeferred AS initially_deferred,
       fromn.nspname::text AS from_schema,
       fromc.relname::text AS from_name,
       EXISTS (SELECT 1 FROM pg_depend d
               WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid
                 AND d.refclassid = 'pg_type'::regclass
                 AND d.refobjid IN (SELECT y.oid FROM pg_type y
                                    WHERE y.oid = c.reltype OR y.typelem = c.reltype)) AS names_row_type,
       pg_get_triggerdef(t.oid, true) AS definition,
       quote_ident(t.tgname) AS q_name,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS q_table,
       ARRAY(SELECT quote_ident(a.attname)
             FROM unnest(t.tgattr::int2[]) WITH ORDINALITY AS u(attnum, i)
             JOIN pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = u.attnum
             ORDER BY u.i) AS q_columns,
       quote_ident(t.tgoldtable) AS q_old_table,
       quote_ident(t.tgnewtable) AS q_new_table,
       CASE WHEN fn.nspname = 'pg_catalog' THEN quote_ident(p.proname)
            ELSE quote_ident(fn.nspname) || '.' || quote_ident(p.proname) END AS q_function,
       quote_ident(fromn.nspname) || '.' || quote_ident(fromc.relname) AS q_from
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_namespace fn ON fn.oid = p.pronamespace
LEFT JOIN pg_class fromc ON fromc.oid = t.tgconstrrelid
LEFT JOIN pg_namespace fromn ON fromn.oid = fromc.relnamespace
WHERE t.tgrelid = $1
  AND NOT t.tgisinternal
  AND fn.nspname NOT LIKE '\_timescaledb\_%'
  AND fn.nspname NOT LIKE 'timescaledb\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend e JOIN pg_extension x ON x.oid = e.refobjid
                  WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid
                    AND e.refclassid = 'pg_extension'::regclass AND e.deptype = 'e'
                    AND x.extname = 'timescaledb')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.oid = t.tgconstraint AND k.contype = 'f')
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_trigger'::regclass AND e.objid = t.oid AND e.deptype = 'e')
ORDER BY t.tgname
