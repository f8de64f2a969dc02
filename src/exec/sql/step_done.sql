-- $1 spec fingerprint, $2 source fingerprint, $3 step id, $4 rows, $5 bytes.
INSERT INTO hypermove.step (spec_fingerprint, source_fingerprint, step_id, rows, bytes)
VALUES ($1, $2, $3, $4, $5)
