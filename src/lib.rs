//! hypermove: move and reshape TimescaleDB data from a reviewed, deterministic plan.
//!
//! The layers depend one way only:
//! `spec` (YAML → validated types) → `catalog` (introspect a database) →
//! `plan` (the DAG as plain data) → `exec` (run it) → `verify` (judge the result).
//! `pg` underneath holds quoting, connections and the client tools; `cli` on top
//! wires the layers; `interrupt` is the two-step Ctrl-C for commands that write.

pub mod archive;
pub mod catalog;
pub mod cli;
pub mod datafile;
pub mod exec;
pub mod fault;
pub mod interrupt;
pub mod pg;
pub mod plan;
pub mod spec;
pub mod verify;
