-- Set the target sequence of a table's column ($1 quoted table, $2 column) to $3.
SELECT setval(pg_get_serial_sequence($1, $2), $3, true)
