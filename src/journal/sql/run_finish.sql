-- $1 spec fingerprint, $2 source fingerprint.
UPDATE hypermove.run SET finished_at = now()
WHERE spec_fingerprint = $1 AND source_fingerprint = $2
