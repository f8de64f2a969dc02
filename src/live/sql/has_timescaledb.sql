-- Whether the source has TimescaleDB (then compressed chunks can appear in the stream).
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
