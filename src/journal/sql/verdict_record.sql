-- Every verdict of one verification, in one statement (one round trip, one commit).
-- $1 spec fingerprint; then one array per column, element i for verdict i:
-- $2 step ids, $3 levels, $4 ok, $5 source answers, $6 target answers.
INSERT INTO hypermove.verification AS v
       (spec_fingerprint, step_id, level, ok, source_answer, target_answer)
SELECT $1, u.step_id, u.level, u.ok, u.source_answer, u.target_answer
FROM unnest($2::text[], $3::text[], $4::bool[], $5::text[], $6::text[])
     AS u(step_id, level, ok, source_answer, target_answer)
ON CONFLICT (spec_fingerprint, step_id) DO UPDATE
   SET level = excluded.level, ok = excluded.ok,
       source_answer = excluded.source_answer, target_answer = excluded.target_answer,
       verified_at = now()
