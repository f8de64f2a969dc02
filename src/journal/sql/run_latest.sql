-- The newest unfinished run of a spec ($1 = its fingerprint): its id (the first 8 hex
-- digits of the spec's and of the source's fingerprints) and when it began, in UTC.
SELECT format('%s-%s', left(spec_fingerprint, 8), left(source_fingerprint, 8)) AS run_id,
       to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS started
FROM hypermove.run
WHERE spec_fingerprint = $1 AND finished_at IS NULL
ORDER BY started_at DESC
LIMIT 1
