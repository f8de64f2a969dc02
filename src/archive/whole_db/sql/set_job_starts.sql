-- Give each restored job the next start it had in the dump, while the database is
-- still in restore mode (alter_job works there, and the scheduler is not running),
-- so that timescaledb_post_restore() starts a scheduler that already knows them.
-- Jobs the dump recorded but the database lacks are skipped. {schema} is quoted by
-- pg::quote_ident. $1: job ids; $2: their next starts, as ISO 8601 text.
WITH present AS MATERIALIZED (
  SELECT j.job_id, j.next_start::timestamptz AS next_start
  FROM unnest($1::int[], $2::text[]) AS j(job_id, next_start)
  WHERE EXISTS (SELECT 1 FROM timescaledb_information.jobs i WHERE i.job_id = j.job_id)
)
SELECT count(*) AS altered
FROM present p,
     LATERAL {schema}.alter_job(p.job_id, next_start => p.next_start) a
