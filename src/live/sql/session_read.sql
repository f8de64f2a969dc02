-- Everything `status` and `cutover` read, with the durations computed on the
-- target's clock (heartbeat and rate) so no two machines' clocks are compared;
-- lag_seconds compares the source's commit time with the follower's clock, as
-- Progress::lag_seconds does.
SELECT phase,
       fence_lsn::text,
       applied_lsn::text,
       confirmed_lsn::text,
       source_end_lsn::text,
       extract(epoch FROM applied_at - last_commit_at)::float8 AS lag_seconds,
       rows_applied - base_rows AS rate_rows,
       extract(epoch FROM rows_at - base_at)::float8 AS rate_seconds,
       retained_bytes,
       wal_status,
       extract(epoch FROM now() - heartbeat_at)::float8 AS heartbeat_age
  FROM hypermove.live_session
 WHERE fingerprint = $1 AND slot_name = $2
