-- When a relation is a TimescaleDB compressed chunk, the user hypertable whose chunk
-- it compresses. Compressed chunks have no pg_inherits parent (observed on 2.19.3 and
-- 2.29.2), and the chunk catalog differs across versions (2.19: chunk.schema_name,
-- table_name, compressed_chunk_id; 2.29: chunk.relid, no compressed_chunk_id, no
-- compressed hypertable at all), but both keep one compression_settings row per
-- compressed chunk: relid = the chunk, compress_relid = its compressed form. The
-- chunk's pg_inherits parent is then the hypertable. A compressed chunk's changes are
-- TimescaleDB's own work (inside its WAL markers), or rows written straight into
-- compressed form; either way they are not plain row changes to apply.
-- Run only when the extension is installed (the catalog table exists then).
-- $1: the relation's OID on the source, as int8 (tokio-postgres has no oid input).
SELECT n.nspname::text AS schema_name, h.relname::text AS table_name
  FROM _timescaledb_catalog.compression_settings s
  JOIN pg_inherits i ON i.inhrelid = s.relid
  JOIN pg_class h ON h.oid = i.inhparent
  JOIN pg_namespace n ON n.oid = h.relnamespace
 WHERE s.compress_relid = $1::int8::oid
 LIMIT 1
