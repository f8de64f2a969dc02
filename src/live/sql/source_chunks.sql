-- The chunks of the moved hypertables on the source now: the pg_inherits children of
-- each root (a plain table has none). $1: the roots as quoted qualified names; $2:
-- the same roots as shown to the user (parallel arrays).
SELECT i.inhrelid::int8 AS source_oid,
       format('%I.%I', n.nspname, c.relname) AS chunk,
       r.shown AS hypertable
  FROM unnest($1::text[], $2::text[]) AS r(root, shown)
  JOIN pg_inherits i ON i.inhparent = to_regclass(r.root)
  JOIN pg_class c ON c.oid = i.inhrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
