-- A live move's row, created in its first phase; an existing row is left as it is
-- (a restarted follower reads it and moves on through session_phase.sql).
INSERT INTO hypermove.live_session (fingerprint, slot_name, phase)
VALUES ($1, $2, $3)
ON CONFLICT (fingerprint, slot_name) DO NOTHING
