-- $1 spec fingerprint, $2 source fingerprint, $3 step id.
SELECT 1 FROM hypermove.step
WHERE spec_fingerprint = $1 AND source_fingerprint = $2 AND step_id = $3
