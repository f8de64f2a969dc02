-- The applied position of one live move, as text (parsed by live::Lsn).
SELECT applied_lsn::text FROM hypermove.live_position
 WHERE fingerprint = $1 AND slot_name = $2
