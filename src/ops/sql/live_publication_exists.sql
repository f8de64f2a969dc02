-- Whether the publication $1 exists in this database.
SELECT count(*) FROM pg_publication WHERE pubname = $1
