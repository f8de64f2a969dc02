-- Each TimescaleDB job's next start, read in dump-db's snapshot. pg_dump cannot carry
-- it: it lives in the job statistics table, which TimescaleDB does not dump. Jobs
-- without a finite next start (paused, or never scheduled yet) are left out: the
-- scheduler computes theirs. to_json gives ISO 8601 with the offset, whatever the
-- session's DateStyle.
SELECT job_id,
       to_json(next_start) #>> '{}' AS next_start
FROM timescaledb_information.job_stats
WHERE next_start IS NOT NULL
  AND isfinite(next_start)
ORDER BY job_id
