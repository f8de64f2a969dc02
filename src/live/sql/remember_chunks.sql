-- Remember source chunks for one live move ($1 fingerprint, $2 slot; $3, $4, $5:
-- OIDs, chunk names and hypertable names as parallel arrays).
INSERT INTO hypermove.live_chunk (fingerprint, slot_name, source_oid, chunk, hypertable)
SELECT $1, $2, o, c, h FROM unnest($3::int8[], $4::text[], $5::text[]) AS t(o, c, h)
ON CONFLICT DO NOTHING
