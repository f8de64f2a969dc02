-- Drop the slot $1 if it exists and no walsender holds it.
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
 WHERE slot_name = $1 AND active_pid IS NULL
