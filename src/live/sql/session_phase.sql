-- Move to phase $3 only from one of the phases in $4 (the legal predecessors,
-- computed by session::Phase): one statement, so two processes cannot both pass
-- the check. Leaving cutting_over for following forgets the fence.
UPDATE hypermove.live_session
   SET phase = $3,
       fence_lsn = CASE WHEN $3 = 'following' THEN NULL ELSE fence_lsn END,
       updated_at = now()
 WHERE fingerprint = $1 AND slot_name = $2 AND phase = ANY($4::text[])
RETURNING phase
