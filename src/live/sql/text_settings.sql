-- The target session parses the walsender's text output: the same settings as
-- live::apply::STREAM_OPTIONS on the replication connection.
SET DateStyle = 'ISO';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 3;
