-- A copy step's rows and the hash of the rows it streamed.
-- $1 spec fingerprint, $2 source fingerprint, $3 step id.
SELECT rows, row_hash FROM hypermove.step
WHERE spec_fingerprint = $1 AND source_fingerprint = $2 AND step_id = $3
