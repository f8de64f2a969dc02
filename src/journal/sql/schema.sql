-- The journal on the target. A run is one spec applied from one source state; a step
-- row is written in the same transaction as the step's own work, so a step is either
-- done and recorded, or neither.
CREATE SCHEMA IF NOT EXISTS hypermove;
CREATE TABLE IF NOT EXISTS hypermove.run (
    spec_fingerprint   text        NOT NULL,
    source_fingerprint text        NOT NULL,
    target_inputs      text        NOT NULL,   -- the target as the plan saw it when the run began
    steps              integer     NOT NULL,
    started_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    PRIMARY KEY (spec_fingerprint, source_fingerprint)
);
CREATE TABLE IF NOT EXISTS hypermove.step (
    spec_fingerprint   text        NOT NULL,
    source_fingerprint text        NOT NULL,
    step_id            text        NOT NULL,
    rows               bigint      NOT NULL,
    bytes              bigint      NOT NULL,
    started_at         timestamptz NOT NULL,   -- when the step's transaction began
    finished_at        timestamptz NOT NULL,   -- when its work was done, just before COMMIT
    PRIMARY KEY (spec_fingerprint, source_fingerprint, step_id)
);
-- The hash of the rows a copy window streamed (32 hex digits), kept for the window's
-- check. Added to journals written before it existed; their rows hold NULL. Looked
-- up first, because ALTER TABLE locks the table even when the column is there.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = 'hypermove.step'::regclass AND attname = 'row_hash'
                     AND NOT attisdropped) THEN
        ALTER TABLE hypermove.step ADD COLUMN row_hash text;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS hypermove.applied (
    spec_fingerprint   text        NOT NULL,
    source_fingerprint text        NOT NULL,
    tables             text[]      NOT NULL,
    applied_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (spec_fingerprint, source_fingerprint)
);
CREATE TABLE IF NOT EXISTS hypermove.verification (
    spec_fingerprint text        NOT NULL,
    step_id          text        NOT NULL,
    level            text        NOT NULL,
    ok               boolean     NOT NULL,
    source_answer    text,
    target_answer    text,
    verified_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (spec_fingerprint, step_id)
);
CREATE TABLE IF NOT EXISTS hypermove.failure (
    spec_fingerprint   text        NOT NULL,
    source_fingerprint text        NOT NULL,
    step_id            text        NOT NULL,
    error              text        NOT NULL,
    failed_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (spec_fingerprint, source_fingerprint, step_id)
);
-- Source jobs `apply --pause-source-jobs` paused for a spec's move, with the state to
-- restore; written before the job is paused and removed once it is restored, so a
-- killed run's next `apply` or a `clean` restores what is left.
CREATE TABLE IF NOT EXISTS hypermove.paused_source_job (
    spec_fingerprint   text        NOT NULL,
    job_id             integer     NOT NULL,
    job                text        NOT NULL,   -- the job, named for messages
    scheduled_before   boolean     NOT NULL,
    paused_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (spec_fingerprint, job_id)
);
