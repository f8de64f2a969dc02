-- The session holding the spec's run lock ($1 = the spec's fingerprint), if any. A
-- 64-bit advisory key shows in pg_locks as classid (high 32 bits) and objid (low).
WITH k AS (SELECT hashtextextended('hypermove:' || $1, 0) AS key)
SELECT a.pid,
       coalesce(host(a.client_addr), 'local') AS client,
       to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS session_start
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
CROSS JOIN k
WHERE l.locktype = 'advisory' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND ((l.classid::int8 << 32) | l.objid::int8) = k.key
LIMIT 1
