//! Why the applier stopped. Every variant that concerns a table names it: the
//! follower prints it and stops, and the user must know which table to look at.

use super::Lsn;
use super::timescale::MarkerError;

/// Why a batch of source transactions could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A moved table was truncated on the source. Not applied: emptying the target
    /// is a decision for the user, not for a follower (docs/live.md, section 9).
    #[error("{table} was truncated on the source during the live move; the follower stops")]
    Truncate {
        /// The moved table (target name).
        table: String,
    },
    /// DDL ran on a moved table: a `Relation` message with another shape.
    #[error("{table} changed shape on the source ({relation}): {detail}; the follower stops")]
    ShapeChanged {
        /// The moved table (target name).
        table: String,
        /// The source relation (chunk or table) the new shape came with.
        relation: String,
        /// What differs.
        detail: String,
    },
    /// A relation of a moved table has other columns than the planned ones.
    #[error(
        "{table}: source relation {relation} has columns [{found}], the move planned [{planned}]"
    )]
    ColumnsDiffer {
        /// The moved table (target name).
        table: String,
        /// The source relation.
        relation: String,
        /// Its columns, by name.
        found: String,
        /// The planned columns.
        planned: String,
    },
    /// A change on a compressed chunk outside TimescaleDB's markers: rows written
    /// straight into compressed form (2.29's `timescaledb.enable_direct_compress_insert`
    /// / `_copy`), which the stream does not carry as rows.
    #[error(
        "{table}: a change on one of its compressed chunks ({relation}) outside TimescaleDB's (de)compression markers: rows written straight into compressed form (timescaledb.enable_direct_compress_insert / enable_direct_compress_copy) do not stream as rows; the follower stops (turn those settings off on the source and move again)"
    )]
    CompressedChunkChange {
        /// The moved table (target name).
        table: String,
        /// The compressed chunk on the source, as the stream named it.
        relation: String,
    },
    /// An empty top-level decompression span: whole compressed batches were deleted,
    /// and the stream holds none of their rows (TimescaleDB 2.19; docs/live.md,
    /// section 7). The span does not say which table: `tables` are the moved
    /// hypertables it can be (compression enabled on the source).
    #[error(
        "{}: compressed batches were deleted whole at {lsn} (a direct batch delete); their rows are not in the stream, so the target would keep them; the follower stops (run `ALTER DATABASE … SET timescaledb.enable_compressed_direct_batch_delete = off` on the source, reconnect its sessions, and move again)",
        candidates(.tables)
    )]
    DirectBatchDelete {
        /// The LSN of the closing marker.
        lsn: Lsn,
        /// The moved hypertables it can concern (target names), sorted.
        tables: Vec<String>,
    },
    /// TimescaleDB's markers do not pair up.
    #[error(transparent)]
    Markers(#[from] MarkerError),
    /// An update or delete whose relation has no replica identity key.
    #[error("{table}: an update or delete without a replica identity key")]
    NoKey {
        /// The moved table (target name).
        table: String,
    },
    /// A value in binary form: hypermove streams text values only.
    #[error("{table}: a binary column value (the stream must run without `binary`)")]
    BinaryValue {
        /// The moved table (target name).
        table: String,
    },
    /// An insert with an unchanged-TOAST column, which pgoutput never sends.
    #[error("{table}: an insert with an unchanged TOAST value")]
    ToastInInsert {
        /// The moved table (target name).
        table: String,
    },
    /// A key column whose value the stream left out (unchanged TOAST in an update
    /// that kept its key): the target row cannot be found by it.
    #[error("{table}: a replica identity column arrived as an unchanged TOAST value")]
    ToastKey {
        /// The moved table (target name).
        table: String,
    },
    /// A change names a relation whose OID was not resolved or described.
    #[error("relation OID {oid} was neither described nor mapped before its change")]
    UnknownRelation {
        /// The source OID.
        oid: u32,
    },
    /// Messages do not form whole transactions (a change outside Begin … Commit,
    /// a Begin inside a transaction, or a batch ending mid-transaction).
    #[error("the messages do not form whole transactions: {0}")]
    Unbalanced(&'static str),
    /// An update or delete found no row on the target: the target has diverged.
    #[error("{table}: the {op} of a source row found no row on the target")]
    RowMissing {
        /// The moved table (target name).
        table: String,
        /// `update`, `delete` or `update (moved)`.
        op: &'static str,
    },
    /// The source failed while mapping a relation.
    #[error("mapping a relation on the source: {}", crate::pg::describe_error(.0))]
    Source(#[source] tokio_postgres::Error),
    /// The target failed.
    #[error("applying on the target: {}", crate::pg::describe_error(.0))]
    Target(#[source] tokio_postgres::Error),
    /// The journal holds a position that is not a WAL position.
    #[error("hypermove.live_position: {0}")]
    Position(#[from] super::LsnParseError),
}

/// The tables an error that cannot tell which one names.
fn candidates(tables: &[String]) -> String {
    match tables {
        [] => "a moved hypertable".to_owned(),
        [one] => one.clone(),
        many => format!("one of {}", many.join(", ")),
    }
}
