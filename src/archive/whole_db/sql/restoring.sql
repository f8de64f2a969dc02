-- Whether a new session on the restored database would still run in restore mode.
SELECT coalesce(current_setting('timescaledb.restoring', true), 'off') AS restoring
