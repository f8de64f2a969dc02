-- Whether the slot $1 exists on this server, and the backend streaming from it.
SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1
