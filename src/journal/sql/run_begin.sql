-- $1 spec fingerprint, $2 source fingerprint, $3 target inputs (JSON), $4 step count.
-- A resumed run keeps its original row: the target as it was when the run began.
INSERT INTO hypermove.run (spec_fingerprint, source_fingerprint, target_inputs, steps)
VALUES ($1, $2, $3, $4)
ON CONFLICT (spec_fingerprint, source_fingerprint) DO NOTHING
