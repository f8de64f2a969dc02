-- Release the spec's run lock held by this session ($1 = the spec's fingerprint).
SELECT pg_advisory_unlock(hashtextextended('hypermove:' || $1, 0)) AS released
