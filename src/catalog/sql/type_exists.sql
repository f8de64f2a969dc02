-- Does a type exist? $1 = schema, $2 = name.
SELECT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
               WHERE n.nspname = $1 AND t.typname = $2) AS present
