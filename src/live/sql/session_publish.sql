-- The follower's progress and heartbeat. Positions only go forward (GREATEST: a
-- late or restarted publisher cannot move them back). The rate window's base moves
-- to the previous sample once it is 10 s old, or to this sample when the count went
-- down (a restarted follower counts from zero). In SET, s.* are the old values.
UPDATE hypermove.live_session s
   SET applied_lsn = GREATEST(s.applied_lsn, $3::text::pg_lsn),
       confirmed_lsn = GREATEST(s.confirmed_lsn, $4::text::pg_lsn),
       source_end_lsn = GREATEST(s.source_end_lsn, $5::text::pg_lsn),
       last_commit_at = COALESCE($6, s.last_commit_at),
       applied_at = COALESCE($7, s.applied_at),
       base_rows = CASE
           WHEN $8 < s.rows_applied THEN $8
           WHEN s.base_at IS NULL OR now() - s.base_at >= interval '10 seconds'
               THEN s.rows_applied
           ELSE s.base_rows END,
       base_at = CASE
           WHEN $8 < s.rows_applied THEN now()
           WHEN s.base_at IS NULL OR now() - s.base_at >= interval '10 seconds'
               THEN s.rows_at
           ELSE s.base_at END,
       rows_applied = $8,
       rows_at = now(),
       retained_bytes = COALESCE($9, s.retained_bytes),
       wal_status = COALESCE($10, s.wal_status),
       heartbeat_at = now(),
       updated_at = now()
 WHERE fingerprint = $1 AND slot_name = $2
