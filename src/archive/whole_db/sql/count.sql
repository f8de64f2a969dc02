-- Exact rows of one table, its partitions or chunks included. {table} is a name
-- quoted by pg::QualifiedName::sql.
SELECT count(*) FROM {table}
