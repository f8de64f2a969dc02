-- Forget a spec ($1 = spec fingerprint): its runs, steps, completion record and
-- verdicts. The moved tables are not touched.
WITH s AS (DELETE FROM hypermove.step WHERE spec_fingerprint = $1 RETURNING 1),
     r AS (DELETE FROM hypermove.run WHERE spec_fingerprint = $1 RETURNING 1),
     a AS (DELETE FROM hypermove.applied WHERE spec_fingerprint = $1 RETURNING 1),
     v AS (DELETE FROM hypermove.verification WHERE spec_fingerprint = $1 RETURNING 1),
     f AS (DELETE FROM hypermove.failure WHERE spec_fingerprint = $1 RETURNING 1)
SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM r) + (SELECT count(*) FROM a)
     + (SELECT count(*) FROM v) + (SELECT count(*) FROM f)
