-- Run first in dump-db's REPEATABLE READ transaction: export its snapshot for
-- `pg_dump --snapshot`, so the dump and the row counts see the same instant.
SELECT pg_export_snapshot() AS snapshot,
       (SELECT pg_encoding_to_char(encoding) FROM pg_database
         WHERE datname = current_database()) AS encoding
