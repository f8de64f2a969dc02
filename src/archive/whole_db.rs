//! Whole-database dump and restore around pg_dump/pg_restore.
