-- `cutover`: phase cutting_over and the fence in one statement, so the follower
-- never sees one without the other. Allowed from following, and again from
-- cutting_over (a retried cutover may move the fence forward, never back).
UPDATE hypermove.live_session
   SET phase = 'cutting_over',
       fence_lsn = GREATEST(fence_lsn, $3::text::pg_lsn),
       updated_at = now()
 WHERE fingerprint = $1 AND slot_name = $2 AND phase IN ('following', 'cutting_over')
RETURNING fence_lsn::text
