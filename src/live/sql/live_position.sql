-- The follower's journal on the target: the end LSN of the last source transaction
-- whose changes are committed on the target, written in the same target transaction
-- as those changes, so a crash leaves both or neither. One row per live move (spec
-- fingerprint) and slot.
CREATE SCHEMA IF NOT EXISTS hypermove;
CREATE TABLE IF NOT EXISTS hypermove.live_position (
    fingerprint text NOT NULL,
    slot_name text NOT NULL,
    applied_lsn pg_lsn NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fingerprint, slot_name)
);
