-- On the source: the slot's retained WAL (from its restart_lsn to the current end)
-- and wal_status ('reserved', 'extended', 'unreserved', 'lost').
SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint,
       wal_status,
       pg_current_wal_lsn()::text
  FROM pg_replication_slots
 WHERE slot_name = $1
