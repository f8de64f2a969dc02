-- Server-wide facts a live move needs before it starts, in one row, all readable by
-- any role (pg_settings, pg_roles, pg_replication_slots, pg_stat_activity are public).
-- Settings a TimescaleDB without its TSL module does not register come back NULL
-- (current_setting(..., true)), never an error.
-- $1: the slot name the move will create; $2: the publication name.
SELECT current_setting('wal_level') AS wal_level,
       current_setting('max_replication_slots')::int AS max_slots,
       (SELECT count(*)::int FROM pg_replication_slots) AS used_slots,
       current_setting('max_wal_senders')::int AS max_senders,
       (SELECT count(*)::int FROM pg_stat_activity
         WHERE backend_type = 'walsender') AS used_senders,
       current_setting('max_slot_wal_keep_size') AS keep_size,
       current_user::text AS role_name,
       r.rolsuper AS superuser,
       r.rolreplication AS replication,
       current_database()::text AS database,
       has_database_privilege(current_database(), 'CREATE') AS create_on_database,
       EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1) AS slot_taken,
       EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $2) AS publication_taken,
       current_setting('timescaledb.enable_compressed_direct_batch_delete', true)
         AS direct_batch_delete,
       current_setting('timescaledb.enable_compression_wal_markers', true)
         AS wal_markers
  FROM pg_roles r
 WHERE r.rolname = current_user
