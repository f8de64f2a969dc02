-- Pause or restore one source job: $1 = job ID, $2 = scheduled. `{ts}` is the schema
-- TimescaleDB's functions are in, quoted by the caller.
SELECT {ts}.alter_job($1, scheduled => $2)
