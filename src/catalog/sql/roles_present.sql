-- Which of these roles exist here? $1 = role names.
SELECT rolname::text FROM pg_roles WHERE rolname = ANY ($1) ORDER BY 1
