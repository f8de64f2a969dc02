-- Undo a CREATE DATABASE when the step right after it failed, before pg_restore
-- wrote anything. {database} is quoted by pg::quote_ident.
DROP DATABASE {database}
