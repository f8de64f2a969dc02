-- The recorded verdicts of one spec ($1 = spec fingerprint), if the journal exists.
SELECT step_id, level, ok, source_answer, target_answer,
       to_char(verified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS verified_at
FROM hypermove.verification
WHERE spec_fingerprint = $1
ORDER BY step_id
