-- Forget the source chunks a live move has seen ($1 fingerprint, $2 slot). Run only
-- where hypermove.live_chunk exists.
DELETE FROM hypermove.live_chunk WHERE fingerprint = $1 AND slot_name = $2
