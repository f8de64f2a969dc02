-- The source chunks one live move has seen ($1 fingerprint, $2 slot).
SELECT source_oid, chunk, hypertable FROM hypermove.live_chunk
 WHERE fingerprint = $1 AND slot_name = $2
