-- $1 spec fingerprint, $2 source fingerprint, $3 step id, $4 rows, $5 bytes,
-- $6 the hash of the rows a copy streamed (NULL for other steps).
-- now() is the transaction's start, which is the step's; clock_timestamp() is now.
INSERT INTO hypermove.step (spec_fingerprint, source_fingerprint, step_id, rows, bytes, row_hash, started_at, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, now(), clock_timestamp())
