-- $1 spec fingerprint, $2 step id, $3 level, $4 ok, $5 source answer, $6 target answer.
INSERT INTO hypermove.verification AS v
       (spec_fingerprint, step_id, level, ok, source_answer, target_answer)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (spec_fingerprint, step_id) DO UPDATE
   SET level = excluded.level, ok = excluded.ok,
       source_answer = excluded.source_answer, target_answer = excluded.target_answer,
       verified_at = now()
