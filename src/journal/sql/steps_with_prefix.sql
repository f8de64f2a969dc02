-- IDs of a spec's finished steps, of any of its runs, that begin with a prefix
-- ($1 = spec fingerprint, $2 = the prefix).
SELECT DISTINCT step_id
FROM hypermove.step
WHERE spec_fingerprint = $1 AND starts_with(step_id, $2)
ORDER BY step_id
