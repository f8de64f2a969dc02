-- Unfinished runs of a spec on this target ($1 = spec fingerprint), with the steps
-- each has done. Empty when the journal does not exist.
SELECT r.source_fingerprint, r.target_inputs, r.steps,
       ARRAY(SELECT s.step_id FROM hypermove.step s
             WHERE s.spec_fingerprint = r.spec_fingerprint
               AND s.source_fingerprint = r.source_fingerprint
             ORDER BY s.step_id) AS done,
       ARRAY(SELECT f.step_id || ': ' || f.error FROM hypermove.failure f
             WHERE f.spec_fingerprint = r.spec_fingerprint
               AND f.source_fingerprint = r.source_fingerprint
               AND NOT EXISTS (SELECT 1 FROM hypermove.step s
                               WHERE s.spec_fingerprint = f.spec_fingerprint
                                 AND s.source_fingerprint = f.source_fingerprint
                                 AND s.step_id = f.step_id)
             ORDER BY f.step_id) AS failures
FROM hypermove.run r
WHERE r.spec_fingerprint = $1 AND r.finished_at IS NULL
ORDER BY r.started_at
