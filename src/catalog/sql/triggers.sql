-- User triggers on a table ($1 = table oid). TimescaleDB's own ts_insert_blocker is
-- an internal detail of a hypertable and is never carried over.
SELECT t.tgname::text AS name
FROM pg_trigger t
WHERE t.tgrelid = $1 AND NOT t.tgisinternal AND t.tgname <> 'ts_insert_blocker'
ORDER BY t.tgname
