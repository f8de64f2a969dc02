-- Which of these tablespaces ($1 = names) exist here, and whether the connected
-- role may create in each: CREATE on it, or it is the database's default (which
-- needs no privilege).
SELECT s.spcname::text AS name,
       has_tablespace_privilege(s.oid, 'CREATE')
         OR s.oid = (SELECT dattablespace FROM pg_database WHERE datname = current_database()) AS may_create
FROM pg_tablespace s
WHERE s.spcname = ANY ($1::text[])
ORDER BY 1
