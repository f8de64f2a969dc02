-- One window's rows for `verify --diff`, as the probe's `key, row` text, sorted by
-- their bytes (COLLATE "C"): the order in which Rust compares strings, so that both
-- sides arrive in one order and merge as they stream. The probe's query replaces
-- the placeholder below.
SELECT k, v FROM ({rows}) AS r(k, v) ORDER BY k COLLATE "C", v COLLATE "C"
