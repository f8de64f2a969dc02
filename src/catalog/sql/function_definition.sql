-- A function's definition on this server, if it exists: $1 = `schema.name(identity args)`
-- as SQL resolves it (the signature of the source's function).
SELECT pg_get_functiondef(to_regprocedure($1)) AS definition
WHERE to_regprocedure($1) IS NOT NULL
