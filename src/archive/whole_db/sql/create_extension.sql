-- Exactly the dump's TimescaleDB version, in the dump's schema: the catalog rows in
-- the dump only fit the catalog tables of that version. {schema} and {version} are
-- quoted by pg::quote_ident and pg::quote_literal.
CREATE EXTENSION timescaledb WITH SCHEMA {schema} VERSION {version}
