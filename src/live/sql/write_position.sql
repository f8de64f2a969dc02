-- Record the applied position, inside the transaction that applied the changes.
-- GREATEST: a position never goes back, whatever a caller passes.
INSERT INTO hypermove.live_position AS p (fingerprint, slot_name, applied_lsn)
VALUES ($1, $2, $3::text::pg_lsn)
ON CONFLICT (fingerprint, slot_name) DO UPDATE
   SET applied_lsn = GREATEST(p.applied_lsn, EXCLUDED.applied_lsn), updated_at = now()
