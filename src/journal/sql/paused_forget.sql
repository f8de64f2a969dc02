-- A paused source job was restored ($1 = spec fingerprint, $2 = job ID).
DELETE FROM hypermove.paused_source_job WHERE spec_fingerprint = $1 AND job_id = $2
