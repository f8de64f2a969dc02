-- Does a schema exist? $1 = schema name.
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS present
