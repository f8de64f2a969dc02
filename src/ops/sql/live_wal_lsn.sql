-- The source's current WAL position: the cutover's fence.
SELECT pg_current_wal_lsn()::text
