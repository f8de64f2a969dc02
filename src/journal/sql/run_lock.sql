-- Take the spec's run lock for this session's life; false when another session holds
-- it. $1 = the spec's fingerprint. The key is a 64-bit hash of it, in hypermove's own
-- space ('hypermove:' prefix) so it does not collide with an application's locks.
SELECT pg_try_advisory_lock(hashtextextended('hypermove:' || $1, 0)) AS locked
