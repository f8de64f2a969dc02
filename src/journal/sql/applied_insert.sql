-- $1 = spec fingerprint, $2 = source fingerprint, $3 = target tables (text[]).
INSERT INTO hypermove.applied (spec_fingerprint, source_fingerprint, tables)
VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
