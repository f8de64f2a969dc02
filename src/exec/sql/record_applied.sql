-- Record a completed, verified move on the target, so that planning the same spec
-- against the same source again reports "nothing to do".
-- $1 = spec fingerprint, $2 = source fingerprint, $3 = target tables.
CREATE SCHEMA IF NOT EXISTS hypermove;
CREATE TABLE IF NOT EXISTS hypermove.applied (
    spec_fingerprint   text        NOT NULL,
    source_fingerprint text        NOT NULL,
    tables             text[]      NOT NULL,
    applied_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (spec_fingerprint, source_fingerprint)
);
