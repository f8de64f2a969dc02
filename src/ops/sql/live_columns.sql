-- A moved table's columns on the target, as pgoutput sends the source's ($1: the
-- quoted qualified name): in order, without dropped or generated ones.
SELECT attname::text
  FROM pg_attribute
 WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
 ORDER BY attnum
