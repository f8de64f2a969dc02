-- Settings every hypermove session uses, on both servers.
-- Every setting that changes a value's text form is fixed, so the same data prints
-- (and checksums) the same on PostgreSQL 17 and 18; catalog reads render names
-- schema-qualified (search_path) and chunk ranges in TimescaleDB's units (UTC).
SET search_path = pg_catalog;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SET bytea_output = 'hex';
SET lc_monetary = 'C';
-- A read must see every row or fail, never quietly fewer: with row_security off, a
-- query that a row-level-security policy would filter raises an error instead.
SET row_security = off;
-- No JIT: hypermove's queries are scans and catalog reads, whose plans the server
-- would compile for tens of milliseconds each once their estimated cost passes
-- jit_above_cost (the catalog query for views took 65 ms, 40 of them compiling).
SET jit = off;
-- Rows of compressed chunks are read only through TimescaleDB's decompression, which
-- these settings can turn off for a role or database (2.19 reads a compressed
-- hypertable as its uncompressed rows alone with enable_optimizations off). They are
-- set only where the server knows them: newer releases dropped the second.
SELECT set_config(name, 'on', false)
  FROM pg_settings
 WHERE name IN ('timescaledb.enable_optimizations',
                'timescaledb.enable_transparent_decompression')
