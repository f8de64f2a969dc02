-- Whether the relation named $1 (quoted, qualified) exists.
SELECT to_regclass($1) IS NOT NULL
