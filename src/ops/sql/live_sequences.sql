-- The sequences owned by a table's columns ($1: the quoted qualified name) and
-- their last value on this server (NULL when never called).
SELECT a.attname::text, pg_sequence_last_value(d.objid::regclass)
  FROM pg_depend d
  JOIN pg_class c ON c.oid = d.objid AND c.relkind = 'S'
  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
   AND d.refobjid = to_regclass($1) AND d.deptype IN ('a', 'i')
 ORDER BY 1
