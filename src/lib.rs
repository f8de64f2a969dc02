//! hypermove: move and reshape TimescaleDB data from a reviewed, deterministic plan.
//!
//! The layers depend one way only:
//! `spec` (YAML → validated types) → `catalog` (introspect a database) →
//! `plan` (the DAG as plain data) → `exec` (run it) → `verify` (judge the result).
//! `journal` owns hypermove's own schema on the target. `ops` holds the use cases
//! (apply, verify, status, clean) over those layers; `archive` holds backup and
//! restore. `pg` underneath holds quoting, connections and the client tools;
//! `interrupt` is the two-step Ctrl-C for commands that write; `cli` on top parses
//! arguments and prints, and decides nothing.

pub mod archive;
pub mod catalog;
pub mod cli;
pub mod datafile;
pub mod error;
pub mod exec;
pub mod fault;
pub mod interrupt;
pub mod journal;
pub mod live;
pub mod ops;
pub mod pg;
pub mod plan;
pub mod spec;
pub mod verify;

pub use error::{Error, Result};
