//! The archive layer: backups to a directory and restores from one.
//!
//! `backup`/`restore` carry individual tables as server-written CSV with a manifest
//! (and can reshape them on the way back; `columnstore` carries their TimescaleDB
//! compression); `whole_db` wraps pg_dump/pg_restore (run through `pg::tools`) for a
//! whole database with the steps TimescaleDB needs around them.
//! Archive sits beside `exec`: it uses `catalog`, `plan` and `exec`, never `cli`.

pub mod backup;
pub mod columnstore;
pub mod manifest;
pub mod restore;
pub mod whole_db;
