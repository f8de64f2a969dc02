-- The changes the slot still holds, without consuming them: everything committed on
-- the source after the slot's confirmed position (the cutover's fence, once the
-- follower stopped there). One pgoutput message per row, as the follower would
-- receive them, with logical messages (TimescaleDB's compression markers).
-- $1: the slot; $2: at most this many changes (whole transactions are returned);
-- $3: the publication, as pgoutput's publication_names list (a quoted identifier).
SELECT data
  FROM pg_logical_slot_peek_binary_changes($1, NULL, $2::int4,
       'proto_version', '1', 'publication_names', $3, 'messages', 'true')
