-- The source's WAL insert position: the cutover's fence. Not pg_current_wal_lsn(),
-- the *write* position, which can trail records already inserted: a transaction
-- whose commit record is inserted but not yet written would fall after such a fence
-- (and be reported as a write after it), and so would the running-transactions
-- record the cutover writes just before its fence.
SELECT pg_current_wal_insert_lsn()::text
