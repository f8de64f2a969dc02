-- One row per live move (spec fingerprint) and slot: how a running follower and a
-- `cutover` or `status` in another process talk. It lives on the target, beside
-- hypermove.live_position, because the target is the database both sides reach and
-- the one that outlives the source's slot.
CREATE SCHEMA IF NOT EXISTS hypermove;
CREATE TABLE IF NOT EXISTS hypermove.live_session (
    fingerprint text NOT NULL,
    slot_name text NOT NULL,
    phase text NOT NULL
        CHECK (phase IN ('copying', 'following', 'cutting_over', 'completed')),
    -- Set by `cutover`, in the same statement as phase 'cutting_over'.
    fence_lsn pg_lsn,
    -- The follower's journal position and the position it confirmed to the slot.
    applied_lsn pg_lsn,
    confirmed_lsn pg_lsn,
    -- The latest end of the source's WAL the follower saw.
    source_end_lsn pg_lsn,
    -- The last applied transaction's source commit, and when it committed here.
    last_commit_at timestamptz,
    applied_at timestamptz,
    -- Apply rate inputs: the follower's row count now and at the window's start.
    rows_applied bigint NOT NULL DEFAULT 0,
    rows_at timestamptz,
    base_rows bigint NOT NULL DEFAULT 0,
    base_at timestamptz,
    -- The slot's retained WAL, when the follower could read it on the source.
    retained_bytes bigint,
    wal_status text,
    heartbeat_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fingerprint, slot_name)
);
