-- Unfinished runs of a spec on this target ($1 = spec fingerprint), with the steps
-- each has done. Empty when the journal does not exist.
SELECT r.source_fingerprint, r.target_inputs, r.steps,
       ARRAY(SELECT s.step_id FROM hypermove.step s
             WHERE s.spec_fingerprint = r.spec_fingerprint
               AND s.source_fingerprint = r.source_fingerprint
             ORDER BY s.step_id) AS done
FROM hypermove.run r
WHERE r.spec_fingerprint = $1 AND r.finished_at IS NULL
ORDER BY r.started_at
