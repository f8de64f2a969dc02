//! Live moves, groundwork: a logical replication connection, the pgoutput decoder,
//! TimescaleDB's compression markers and relation shapes. Nothing here is wired
//! into a command yet; docs/live.md holds the design the follower builds on.
//!
//! - `conn`: `replication=database` connections: `CREATE_REPLICATION_SLOT … (SNAPSHOT
//!   'export')`, `START_REPLICATION`, standby status updates.
//! - `wire`: frames and the replication messages inside CopyData.
//! - `pgoutput`: the plugin's messages as plain enums, column values left raw.
//! - `timescale`: which changes TimescaleDB's own compression produces.
//! - `shape`: relation shapes, and DDL seen as a change of shape.
//! - `mapping`: source relations (chunks, roots) to moved tables, through pg_inherits.
//! - `batch`: source transactions to target operations (skips, COPY runs, moves).
//! - `apply`: those operations in one target transaction, with the journal position.
//! - `pending`: whole transactions gathered into a batch, bounded by rows, bytes, time.
//! - `preflight`: what the source must offer before a live move starts.
//! - `after_fence`: what the source committed on moved tables after a cutover's
//!   fence, peeked at in the slot.
//! - `chunks`: chunks of moved hypertables dropped on the source during the move.
//! - `session`: the follower's row on the target, read and written by `cutover` and
//!   `status` from other processes.
//! - `follow`: the follower loop: stream → batches → apply → confirm, until a fence
//!   or a stop.

pub mod after_fence;
pub mod apply;
mod apply_error;
pub mod batch;
pub mod chunks;
mod conn;
mod error;
pub mod follow;
mod lsn;
pub mod mapping;
pub mod pending;
pub mod pgoutput;
pub mod preflight;
pub mod session;
pub mod shape;
pub mod timescale;
pub mod wire;

pub use apply::{Applied, Applier, STREAM_OPTIONS};
pub use apply_error::ApplyError;
pub use conn::{ReplicationConn, ReplicationStream, SlotCreated, SystemIdentity};
pub use error::LiveError;
pub use follow::{Controller, Controls, Ends, FollowError, Outcome, Progress, follow};
pub use lsn::{Lsn, LsnParseError};
pub use preflight::{LiveNames, Preflight};
pub use wire::ReplicationData;
