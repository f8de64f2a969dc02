-- The schema TimescaleDB lived in on the source, when not public: it must exist
-- before CREATE EXTENSION. {schema} is quoted by pg::quote_ident.
CREATE SCHEMA {schema}
