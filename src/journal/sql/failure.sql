-- $1 spec fingerprint, $2 source fingerprint, $3 step id, $4 the error.
INSERT INTO hypermove.failure AS f (spec_fingerprint, source_fingerprint, step_id, error)
VALUES ($1, $2, $3, $4)
ON CONFLICT (spec_fingerprint, source_fingerprint, step_id)
DO UPDATE SET error = excluded.error, failed_at = now()
