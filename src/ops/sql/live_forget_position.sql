-- Forget a live move's applied position ($1 fingerprint, $2 slot). Run only where
-- hypermove.live_position exists.
DELETE FROM hypermove.live_position WHERE fingerprint = $1 AND slot_name = $2
