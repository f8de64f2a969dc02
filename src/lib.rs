//! hypermove: move and reshape TimescaleDB data from a reviewed, deterministic plan.
//!
//! The layers depend one way only:
//! `spec` (YAML → validated types) → `catalog` (introspect a database) →
//! `plan` (the DAG as plain data) → `exec` (run it) → `verify` (judge the result).
//! `pg` underneath holds quoting and connections; `cli` on top wires the layers.

pub mod archive;
pub mod catalog;
pub mod cli;
pub mod datafile;
pub mod exec;
pub mod fault;
pub mod pg;
pub mod plan;
pub mod spec;
pub mod verify;
