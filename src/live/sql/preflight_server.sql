-- Server-wide facts a live move needs before it starts, in one row, all readable by
-- any role (pg_settings, pg_roles, pg_replication_slots, pg_stat_activity are public).
-- Settings a TimescaleDB without its TSL module does not register come back NULL
-- (current_setting(..., true)), never an error.
-- db_direct_batch_delete: the value `ALTER DATABASE <this> SET
-- timescaledb.enable_compressed_direct_batch_delete` stored (NULL: not set), which every
-- new session of the database starts with; role_direct_batch_delete: `role=value` for
-- each role-level setting of it (ALTER ROLE … [IN DATABASE <this>] SET), which beats
-- the database's for that role's sessions (pg_db_role_setting is readable by all).
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
         AS wal_markers,
       (SELECT substr(c, strpos(c, '=') + 1)
          FROM pg_db_role_setting s, unnest(s.setconfig) c
         WHERE s.setrole = 0
           AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND split_part(c, '=', 1) = 'timescaledb.enable_compressed_direct_batch_delete'
         LIMIT 1) AS db_direct_batch_delete,
       ARRAY(SELECT a.rolname::text || '=' || substr(c, strpos(c, '=') + 1)
               FROM pg_db_role_setting s
               JOIN pg_roles a ON a.oid = s.setrole, unnest(s.setconfig) c
              WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database
                                           WHERE datname = current_database()))
                AND split_part(c, '=', 1) = 'timescaledb.enable_compressed_direct_batch_delete'
              ORDER BY 1) AS role_direct_batch_delete
  FROM pg_roles r
 WHERE r.rolname = current_user
