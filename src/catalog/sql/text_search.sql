-- Text search configurations outside pg_catalog that a table uses ($1 = table oid),
-- or the one named $2.$3 ($1 = 0), one row per token type mapped: the parser, the
-- token type's alias, and its dictionaries in order. pg_depend records a
-- `'cfg'::regconfig` in an index expression, a default or a generated column.
-- Dictionaries come as two arrays in step (schemas, names), in mapping order.
WITH cfg AS (
    SELECT c.oid, n.nspname::text AS schema, c.cfgname::text AS name, c.cfgparser
    FROM pg_ts_config c
    JOIN pg_namespace n ON n.oid = c.cfgnamespace
    WHERE n.nspname <> 'pg_catalog'
      AND (c.oid IN (
              SELECT d.refobjid
              FROM pg_depend d
              WHERE d.refclassid = 'pg_ts_config'::regclass
                AND ((d.classid = 'pg_class'::regclass
                      AND (d.objid = $1 OR d.objid IN (SELECT indexrelid FROM pg_index WHERE indrelid = $1)))
                  OR (d.classid = 'pg_attrdef'::regclass
                      AND d.objid IN (SELECT oid FROM pg_attrdef WHERE adrelid = $1))
                  OR (d.classid = 'pg_constraint'::regclass
                      AND d.objid IN (SELECT oid FROM pg_constraint WHERE conrelid = $1))))
           OR (n.nspname = $2::text AND c.cfgname = $3::text))
)
SELECT cfg.schema,
       cfg.name,
       pn.nspname::text AS parser_schema,
       p.prsname::text AS parser_name,
       t.alias::text AS token,
       ARRAY(SELECT dn.nspname::text
             FROM pg_ts_config_map m2
             JOIN pg_ts_dict d ON d.oid = m2.mapdict
             JOIN pg_namespace dn ON dn.oid = d.dictnamespace
             WHERE m2.mapcfg = cfg.oid AND m2.maptokentype = t.tokid
             ORDER BY m2.mapseqno) AS dictionary_schemas,
       ARRAY(SELECT d.dictname::text
             FROM pg_ts_config_map m2
             JOIN pg_ts_dict d ON d.oid = m2.mapdict
             WHERE m2.mapcfg = cfg.oid AND m2.maptokentype = t.tokid
             ORDER BY m2.mapseqno) AS dictionary_names
FROM cfg
JOIN pg_ts_parser p ON p.oid = cfg.cfgparser
JOIN pg_namespace pn ON pn.oid = p.prsnamespace
LEFT JOIN LATERAL ts_token_type(cfg.cfgparser) t
       ON EXISTS (SELECT 1 FROM pg_ts_config_map m WHERE m.mapcfg = cfg.oid AND m.maptokentype = t.tokid)
ORDER BY 1, 2, t.tokid
