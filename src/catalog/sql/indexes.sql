-- Indexes of a table that do not back a constraint ($1 = table oid); constraint
-- indexes are recreated by their constraint.
--
-- `body` is the definition after `USING <method> `: the key columns, INCLUDE,
-- WITH and WHERE parts. It is cut from pg_get_indexdef at a prefix rebuilt here
-- with the same quoting rules, so the index can be recreated on a renamed table.
-- `prefix_ok` is false if the server ever renders the prefix differently.
WITH idx AS (
    SELECT ic.relname::text AS name,
           i.indisunique AS is_unique,
           am.amname::text AS method,
           pg_get_indexdef(i.indexrelid) AS def,
           format('CREATE %sINDEX %s ON %s USING %s ',
                  CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END,
                  quote_ident(ic.relname),
                  quote_ident(tn.nspname) || '.' || quote_ident(t.relname),
                  am.amname) AS prefix,
           ARRAY(SELECT a.attname::text
                 FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                 WHERE k.ord <= i.indnkeyatts
                 ORDER BY k.ord) AS key_columns
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace tn ON tn.oid = t.relnamespace
    JOIN pg_am am ON am.oid = ic.relam
    WHERE i.indrelid = $1
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                      WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                        AND c.contype IN ('p', 'u', 'x'))
)
SELECT name, is_unique, method,
       starts_with(def, prefix) AS prefix_ok,
       substr(def, length(prefix) + 1) AS body,
       def,
       key_columns
FROM idx
ORDER BY name
