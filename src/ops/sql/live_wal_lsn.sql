-- The source's current WAL position (written): the cutover's fence.
SELECT pg_current_wal_lsn()::text
