-- Whether TimescaleDB's information views exist here.
SELECT to_regclass('timescaledb_information.dimensions') IS NOT NULL
