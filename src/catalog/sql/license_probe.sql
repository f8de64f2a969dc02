-- Run inside a transaction that is always rolled back: creating the extension loads
-- TimescaleDB's library, which defines timescaledb.license.
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
