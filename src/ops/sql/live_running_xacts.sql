-- Write a running-transactions record (PostgreSQL 16+) just before the cutover's
-- fence. Logical decoding moves a slot's restart point only at such records, and
-- only once the consumer confirms past them; the follower confirms the fence, so
-- with this record before it the slot's restart point moves up to about the fence.
-- The cutover's look for writes after the fence then decodes from there, instead of
-- from the last record the server wrote on its own (up to 15 s of WAL earlier,
-- seconds of decoding after a busy follow). Superuser or pg_checkpoint; where it is
-- missing or not allowed, the look is only slower.
--
-- The record is not flushed by itself, and a walsender sends only flushed WAL: the
-- transaction id taken here makes the commit write a commit record and flush up to
-- it (with synchronous_commit on; else the WAL writer does, moments later), so the
-- fence read afterwards lies past the record and the follower can reach it.
SELECT pg_log_standby_snapshot();
SELECT pg_current_xact_id();
