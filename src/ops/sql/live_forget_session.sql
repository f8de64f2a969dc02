-- Forget a live move's session row ($1 fingerprint, $2 slot): `apply --follow
-- --restart` and `clean`. Run only where hypermove.live_session exists.
DELETE FROM hypermove.live_session WHERE fingerprint = $1 AND slot_name = $2
