-- The verification journal on the target: the latest verdict of every verify step
-- of a spec, written by `apply` and `verify`, read by `status`.
CREATE SCHEMA IF NOT EXISTS hypermove;
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
