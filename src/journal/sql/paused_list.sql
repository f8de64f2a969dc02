-- The source jobs paused for a spec's move and not restored yet ($1 = spec fingerprint).
SELECT job_id, job, scheduled_before
FROM hypermove.paused_source_job
WHERE spec_fingerprint = $1
ORDER BY job_id
