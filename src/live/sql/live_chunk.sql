-- The source chunks a live move has seen, on the target: a chunk known here and gone
-- from the source was dropped during the move (drop_chunks, a retention policy,
-- merge_chunks), which streams no row change. Kept on the target so a resumed
-- follower still knows what it saw before it was stopped.
CREATE SCHEMA IF NOT EXISTS hypermove;
CREATE TABLE IF NOT EXISTS hypermove.live_chunk (
    fingerprint text NOT NULL,
    slot_name text NOT NULL,
    source_oid bigint NOT NULL,
    chunk text NOT NULL,
    hypertable text NOT NULL,
    PRIMARY KEY (fingerprint, slot_name, source_oid)
);
