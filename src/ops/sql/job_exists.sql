-- Whether a source job still exists ($1 = job ID).
SELECT EXISTS (SELECT 1 FROM timescaledb_information.jobs j WHERE j.job_id = $1)
