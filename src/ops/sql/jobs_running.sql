-- Which of these source jobs ($1 = job IDs) are running right now: pausing a job
-- does not stop a run already under way.
SELECT s.job_id
FROM timescaledb_information.job_stats s
WHERE s.job_id = ANY($1) AND s.job_status = 'Running'
ORDER BY s.job_id
