-- Moves recorded as complete on this target (written by exec at the end of a
-- successful apply). Empty when the journal table does not exist.
SELECT spec_fingerprint, source_fingerprint
FROM hypermove.applied
ORDER BY applied_at
