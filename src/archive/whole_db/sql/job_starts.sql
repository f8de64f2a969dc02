-- Each TimescaleDB job's next start, read in dump-db's snapshot. pg_dump cannot carry
-- it: it lives in the job statistics table, which TimescaleDB does not dump. Jobs
-- without a finite next start (paused, or never scheduled yet) are left out: the
-- scheduler computes theirs. to_json gives ISO 8601 with the offset, whatever the
-- session's DateStyle. Only the jobs the dump carries (ids from 1000 on, the rows
-- of bgw_job TimescaleDB marks for pg_dump): the extension's own jobs below 1000 are
-- made by CREATE EXTENSION, and on an Apache build alter_job, which restores a next
-- start, is not even allowed (while the Apache build has no jobs of 1000 and above).
SELECT job_id,
       to_json(next_start) #>> '{}' AS next_start
FROM timescaledb_information.job_stats
WHERE job_id >= 1000
  AND next_start IS NOT NULL
  AND isfinite(next_start)
ORDER BY job_id
