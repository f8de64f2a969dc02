-- `cutover`: the move is completed, only from cutting_over and only once the
-- follower confirmed the fence: a cutover that skipped the wait cannot complete a
-- move whose tail is still on its way. Completing again is a no-op, not an error.
UPDATE hypermove.live_session
   SET phase = 'completed', updated_at = now()
 WHERE fingerprint = $1 AND slot_name = $2
   AND (phase = 'completed'
        OR (phase = 'cutting_over' AND confirmed_lsn >= fence_lsn))
RETURNING phase
