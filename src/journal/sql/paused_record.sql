-- A source job is about to be paused for a spec's move ($1 = spec fingerprint,
-- $2 = job ID, $3 = the job named, $4 = whether it was scheduled). A job recorded
-- already keeps its first record: the state before hypermove touched it.
INSERT INTO hypermove.paused_source_job (spec_fingerprint, job_id, job, scheduled_before)
VALUES ($1, $2, $3, $4)
ON CONFLICT (spec_fingerprint, job_id) DO NOTHING
