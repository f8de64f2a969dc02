//! The plan layer: turn a spec and two catalogs into a DAG of steps, as plain data.
//!
//! A plan is built the same way for `plan` and `apply`; only the executor differs.
//! Every step carries a stable ID (`copy:public.conditions:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z`)
//! and the exact SQL it will run, so what a reviewer reads is what runs.

mod build;
mod caggs;
mod catch_up;
mod closure;
mod collations;
mod compression;
mod copy;
mod ddl;
mod fingerprint;
mod functions;
mod gather;
mod grants;
mod init;
mod jobs;
mod preflight;
pub(crate) mod probe;
mod render;
mod security;
mod settings;
mod shape;
mod standalone;
mod tablespace;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests_build;
#[cfg(test)]
mod tests_caggs;
#[cfg(test)]
mod tests_closure;
#[cfg(test)]
mod tests_compression;
#[cfg(test)]
mod tests_default_sequences;
#[cfg(test)]
mod tests_functions;
#[cfg(test)]
mod tests_jobs;
#[cfg(test)]
mod tests_refusals;
#[cfg(test)]
mod tests_triggers;
#[cfg(test)]
mod tests_verification;
#[cfg(test)]
mod tests_views;
mod triggers;
mod views;
mod window;

use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

use crate::pg::QualifiedName;
use crate::spec::VerifyLevel;

pub use build::{build, build_verification};
pub use catch_up::compression_catch_up;
pub use fingerprint::{
    Fingerprints, combined as combined_fingerprint, differences, spec_fingerprint,
};
pub use gather::{
    Inputs, SourceSide, TargetSide, for_empty_target, gather, gather_source, gather_source_only,
    gather_target, select, select_from,
};
pub use init::init_spec;
pub use probe::{is_table_check, is_table_total};
pub use render::{
    SavedPlan, bytes as render_bytes, render_dot, render_json, render_text, rows as render_rows,
    summary,
};

/// The version of the JSON plan format; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// Reasons a plan cannot be made. Nothing has been written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A catalog could not be read.
    #[error("{role}: {source}")]
    Catalog {
        /// `source` or `target`.
        role: crate::pg::Role,
        /// The catalog error.
        #[source]
        source: crate::catalog::CatalogError,
    },
    /// A table entry of the spec cannot be planned as written.
    #[error("{0}")]
    Table(Box<TableError>),
    /// The target server cannot hold what the spec asks for.
    #[error("target: {0}")]
    Target(String),
    /// Several reasons at once: a refused plan names every one it found, so a
    /// reviewer fixes them in one round, not one per run.
    #[error("{}", list_refusals(.0))]
    Refused(Vec<PlanError>),
}

/// `the plan is refused for N reasons:` and one indented line per reason.
fn list_refusals(all: &[PlanError]) -> String {
    let mut out = format!("the plan is refused for {} reasons:", all.len());
    for e in all {
        for (i, line) in e.to_string().lines().enumerate() {
            out.push_str(if i == 0 { "\n  - " } else { "\n    " });
            out.push_str(line);
        }
    }
    out
}

/// A problem with one selected table, located at its spec entry.
#[derive(Debug)]
pub struct TableError {
    /// The spec file.
    pub file: String,
    /// The entry's position in the spec, when it has one.
    pub position: Option<(usize, usize)>,
    /// `tables[1]`, or the `include:` pattern that selected the table.
    pub origin: String,
    /// The source table.
    pub table: QualifiedName,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{line}:{col}: ", self.file)?,
            None => write!(f, "{}: ", self.file)?,
        }
        write!(f, "{} ({}): {}", self.origin, self.table, self.message)
    }
}

impl PlanError {
    /// Every refusal found, as one error: the single one as itself, several as a
    /// list; `None` when there is none.
    pub fn collected(mut all: Vec<PlanError>) -> Option<PlanError> {
        // A nested list is flattened, so the reader sees one list.
        all = all
            .into_iter()
            .flat_map(|e| match e {
                PlanError::Refused(inner) => inner,
                e => vec![e],
            })
            .collect();
        match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(PlanError::Refused(all)),
        }
    }

    /// A problem with one selected table, located at its spec entry.
    pub fn table(spec: &crate::spec::Spec, t: &crate::spec::TableSpec, message: String) -> Self {
        PlanError::Table(Box::new(TableError {
            file: spec.path.display().to_string(),
            position: t.origin.position,
            origin: t.origin.label.clone(),
            table: t.source.clone(),
            message,
        }))
    }
}

/// What kind of work a step does; also its rank when ordering ready steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// `CREATE EXTENSION`.
    Extension,
    /// `CREATE SCHEMA`.
    Schema,
    /// `CREATE TYPE` / `CREATE DOMAIN`.
    Type,
    /// `CREATE COLLATION` for a collation the tables use.
    Collation,
    /// `CREATE TEXT SEARCH CONFIGURATION` and its mappings, for one the tables use.
    TextSearch,
    /// `CREATE FUNCTION` for a user function the tables call (defaults, CHECKs,
    /// indexes, integer_now_func), before the tables.
    Function,
    /// `CREATE SEQUENCE` for a sequence no column owns that a default draws from.
    CreateSequence,
    /// `CREATE TABLE` with columns and CHECK constraints.
    Table,
    /// `create_hypertable` and `add_dimension`.
    Hypertable,
    /// Storage settings (reloptions, column storage, compression, statistics),
    /// before the data.
    Settings,
    /// Compression (columnstore) settings of a hypertable, before its data.
    Compression,
    /// `CREATE VIEW` or `CREATE MATERIALIZED VIEW … WITH NO DATA`, once what it reads exists.
    View,
    /// A continuous aggregate: created `WITH NO DATA`, and once its materialized rows
    /// are copied, its watermark and invalidation state set as the source's.
    ContinuousAggregate,
    /// Compress the target chunks of one time slice once its windows have landed;
    /// ranked before copies, so a full slice is compressed before more is loaded.
    Compress,
    /// One data-copy window.
    Copy,
    /// Primary key, unique and exclusion constraints, after the data.
    Constraint,
    /// Secondary indexes, after the data.
    Index,
    /// Foreign keys, after the data of both tables.
    ForeignKey,
    /// Sequences set to where the source's stand, after the data.
    Sequence,
    /// Owner and grants (`grants: true`).
    Grant,
    /// `ALTER DEFAULT PRIVILEGES` of a moved schema (`grants: true`), last.
    DefaultPrivileges,
    /// Extended statistics objects, after the data.
    Statistics,
    /// `REPLICA IDENTITY`, once the table's indexes exist.
    ReplicaIdentity,
    /// User triggers, once the table's rows are loaded and checked.
    Trigger,
    /// Row-level security and policies, after everything else of the table.
    RowSecurity,
    /// `REFRESH MATERIALIZED VIEW`, once the rows it reads are on the target.
    Refresh,
    /// A compression, retention or refresh policy, once the table is moved and
    /// checked; created paused.
    Policy,
    /// A user job (`add_job`), once the tables it touches are moved; created paused.
    Job,
    /// Compare source and target.
    Verify,
    /// Enable the target's jobs that the source has scheduled: held back by `exec`
    /// and run only once the whole move is verified (see `plan::jobs`).
    EnableJobs,
}

impl StepKind {
    /// The word used in step IDs and text output.
    pub fn label(self) -> &'static str {
        match self {
            StepKind::Extension => "extension",
            StepKind::Schema => "schema",
            StepKind::Type => "type",
            StepKind::Collation => "collation",
            StepKind::TextSearch => "text_search",
            StepKind::Function => "function",
            StepKind::CreateSequence => "create_sequence",
            StepKind::Table => "table",
            StepKind::Hypertable => "hypertable",
            StepKind::View => "view",
            StepKind::ContinuousAggregate => "cagg",
            StepKind::Copy => "copy",
            StepKind::Compression => "compression",
            StepKind::Compress => "compress",
            StepKind::Policy => "policy",
            StepKind::Job => "job",
            StepKind::EnableJobs => "jobs",
            StepKind::Constraint => "constraint",
            StepKind::Index => "index",
            StepKind::ForeignKey => "fk",
            StepKind::Sequence => "sequence",
            StepKind::Grant => "grants",
            StepKind::DefaultPrivileges => "default_privileges",
            StepKind::Settings => "settings",
            StepKind::Statistics => "statistics",
            StepKind::ReplicaIdentity => "replica_identity",
            StepKind::Trigger => "trigger",
            StepKind::RowSecurity => "rls",
            StepKind::Refresh => "refresh",
            StepKind::Verify => "verify",
        }
    }
}

/// One node of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Stable ID, unique within the plan.
    pub id: String,
    /// What kind of step.
    pub kind: StepKind,
    /// The target table the step belongs to, if any.
    pub table: Option<QualifiedName>,
    /// What to do.
    pub action: Action,
}

/// The work of a step.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Statements run on the target in one transaction.
    Sql(Vec<String>),
    /// Stream one window from source to target.
    Copy(CopyWindow),
    /// Load one backup file into the target.
    Load(LoadFile),
    /// Run one single-value query on each side; `verify` compares the answers.
    Probe(Probe),
}

/// A data-copy window: one `COPY … TO STDOUT` piped into one `COPY … FROM STDIN`.
#[derive(Debug, Clone, Serialize)]
pub struct CopyWindow {
    /// The source table (for reporting).
    pub source_table: QualifiedName,
    /// `COPY (SELECT …) TO STDOUT (FORMAT …)` on the source.
    pub source_sql: String,
    /// `COPY target (cols) FROM STDIN (FORMAT …)` on the target.
    pub target_sql: String,
    /// When the target relation is named only at run time (a continuous aggregate's
    /// materialization hypertable, created with the aggregate): the placeholder
    /// `target_sql` holds, and the query on the target whose one text answer (a
    /// `regclass`, quoted by the server) replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_lookup: Option<(String, String)>,
    /// Estimated rows, from the source's statistics.
    pub est_rows: Option<u64>,
    /// Estimated bytes, from the source's relation sizes.
    pub est_bytes: u64,
    /// `SELECT … FROM … WHERE …`: the window's rows, for `backup` to write as CSV.
    #[serde(skip)]
    pub select_sql: String,
    /// The window's bounds, for `backup`'s manifest.
    #[serde(skip)]
    pub bounds: WindowBounds,
    /// The window lands wholly in target slices that end compressed, so it may go
    /// straight into the columnstore where the target can (opt-in; exec/copy.rs).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub direct_compress: bool,
}

/// A window's time range, in internal units (microseconds since the Unix epoch for
/// time types, the value itself for integers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct WindowBounds {
    /// The column the range is on, and its type family; `None` for a whole table.
    pub time: Option<(String, crate::catalog::TimeType)>,
    /// Inclusive lower bound; `None` when open.
    pub lo: Option<i64>,
    /// Exclusive upper bound; `None` when open.
    pub hi: Option<i64>,
}

/// One backup file loaded into the target: `COPY … FROM STDIN (FORMAT csv)` in one
/// transaction, with the file's SHA-256 and row count checked before it commits.
#[derive(Debug, Clone, Serialize)]
pub struct LoadFile {
    /// The file.
    pub path: std::path::PathBuf,
    /// Whether the file is zstd-compressed.
    pub zstd: bool,
    /// `COPY target (columns in the file's order) FROM STDIN (FORMAT csv, HEADER true)`.
    pub target_sql: String,
    /// Rows the manifest records.
    pub rows: u64,
    /// Bytes the manifest records (of the file as stored).
    pub bytes: u64,
    /// SHA-256 the manifest records (of the file as stored).
    pub sha256: String,
}

/// One table of a backup, as the plan needs it to restore.
#[derive(Debug, Clone)]
pub struct ArchiveTable {
    /// The CSV columns, in the files' order.
    pub header: Vec<String>,
    /// The files, one per window.
    pub files: Vec<ArchiveFile>,
}

/// One data file of a backup.
#[derive(Debug, Clone)]
pub struct ArchiveFile {
    /// Its window.
    pub bounds: WindowBounds,
    /// Where it is.
    pub path: std::path::PathBuf,
    /// Whether it is zstd-compressed.
    pub zstd: bool,
    /// Rows.
    pub rows: u64,
    /// Bytes as stored.
    pub bytes: u64,
    /// SHA-256 as stored.
    pub sha256: String,
    /// The verification checksum of its rows, taken on the source at backup time.
    pub checksum: Option<String>,
}

/// A pair of single-row queries whose answers must be equal, plus the queries that
/// list the rows of the same window when they are not.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// `count` or `checksum`.
    pub level: VerifyLevel,
    /// The check covers a whole table's rows (its row total) rather than one window.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub table_total: bool,
    /// A check of the table as a whole other than its rows, named (`compression`):
    /// neither a window nor a row total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_check: Option<String>,
    /// What each answer column means (`rows`, `checksum`).
    pub columns: Vec<String>,
    /// Query on the source (read in the move's snapshot).
    pub source_sql: String,
    /// The same question on the target, over the same time range.
    pub target_sql: String,
    /// At `checksum`: the rows to read with COPY and hash on the client. The answers
    /// are then the source's count (`source_sql`) or its rows read whole, and the
    /// target's rows read back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_read: Option<RowsRead>,
    /// `key, row` as text for every source row of the window (for `verify --diff`);
    /// `None` for a table's row total, which has no rows of its own to list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_rows_sql: Option<String>,
    /// `key, row` as text for every target row of the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rows_sql: Option<String>,
    /// The source's answers, recorded earlier (a backup's manifest): the source is
    /// not asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Vec<String>>,
}

/// A window's rows read with COPY on both sides and hashed by the client.
#[derive(Debug, Clone, Serialize)]
pub struct RowsRead {
    /// `COPY (SELECT … FROM <source table> WHERE <range>) TO STDOUT (…)`: the source
    /// read through its table, as a user's query would; the copy reads its chunks.
    pub source_copy: String,
    /// The same read of the target table over the same range.
    pub target_copy: String,
    /// The copy step whose journal row holds the hash of the rows it streamed
    /// (`apply`). When that hash is there, the source is counted through its table
    /// instead of read again; without it (`verify`, or a journal written before
    /// hashes were kept), the source is read whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copied_by: Option<String>,
}

/// How a table looks on one side, for the before → after summary.
#[derive(Debug, Clone, Serialize)]
pub struct Layout {
    /// `plain table` or the hypertable's dimensions, e.g. `time 1 day`.
    pub description: String,
    /// Chunks on the source (`None` for the target, which has none yet).
    pub chunks: Option<usize>,
    /// How many of those chunks are compressed (read decompressed by the copy).
    #[serde(skip_serializing_if = "is_zero")]
    pub compressed_chunks: usize,
    /// The primary dimension's chunk interval, e.g. `1 day`; `None` for a plain table.
    pub chunk_interval: Option<String>,
    /// Hash partitions over all hash dimensions; 0 when there are none.
    pub hash_partitions: u32,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The per-table summary shown above the steps.
#[derive(Debug, Clone, Serialize)]
pub struct TablePlan {
    /// The source table.
    pub source: QualifiedName,
    /// The target table.
    pub target: QualifiedName,
    /// Source layout.
    pub before: Layout,
    /// Target layout.
    pub after: Layout,
    /// Number of copy windows.
    pub windows: usize,
    /// Estimated rows over all windows.
    pub est_rows: Option<u64>,
    /// Estimated bytes over all windows.
    pub est_bytes: u64,
    /// Compression (columnstore) and its policies, before → after; `None` when
    /// neither side has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<(String, String)>,
}

/// A complete plan: the DAG plus what the reviewer needs around it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Steps; an edge `a → b` means `b` waits for `a`.
    pub graph: DiGraph<Step, ()>,
    /// Per-table summaries, in spec order.
    pub tables: Vec<TablePlan>,
    /// Things that will not carry over, for the reviewer.
    pub warnings: Vec<String>,
    /// `user@host:port/db` and version of the source.
    pub source: String,
    /// `user@host:port/db` and version of the target.
    pub target: String,
    /// The spec file, as given on the command line.
    pub spec_path: String,
    /// What the plan was built from, for saved-plan staleness checks.
    pub fingerprints: Fingerprints,
    /// The target already holds this exact move: there is nothing to do.
    pub up_to_date: bool,
    /// Steps an interrupted run of this plan already finished (they are skipped).
    pub done: std::collections::BTreeSet<String>,
    /// Whether this plan resumes an interrupted run.
    pub resumed: bool,
    /// The target side the plan was built from, as JSON, for the journal.
    pub target_inputs: String,
}

impl Plan {
    /// Steps in a deterministic execution order: a topological order that, among
    /// the steps ready at the same time, takes the lower kind and then the earlier
    /// insertion first. The same inputs give the same order, always.
    pub fn order(&self) -> Vec<NodeIndex> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let g = &self.graph;
        let mut waiting: Vec<usize> = g
            .node_indices()
            .map(|n| {
                g.neighbors_directed(n, petgraph::Direction::Incoming)
                    .count()
            })
            .collect();
        let mut ready: BinaryHeap<Reverse<(StepKind, usize)>> = g
            .node_indices()
            .filter(|n| waiting[n.index()] == 0)
            .map(|n| Reverse((g[n].kind, n.index())))
            .collect();
        let mut out = Vec::with_capacity(g.node_count());
        while let Some(Reverse((_, i))) = ready.pop() {
            let n = NodeIndex::new(i);
            out.push(n);
            for next in g.neighbors_directed(n, petgraph::Direction::Outgoing) {
                waiting[next.index()] -= 1;
                if waiting[next.index()] == 0 {
                    ready.push(Reverse((g[next].kind, next.index())));
                }
            }
        }
        debug_assert_eq!(out.len(), g.node_count(), "the plan graph has a cycle");
        out
    }

    /// Whether applying the plan would change anything.
    pub fn has_changes(&self) -> bool {
        self.graph
            .node_weights()
            .any(|s| s.kind != StepKind::Verify && !self.done.contains(&s.id))
            || (self.resumed && self.graph.node_count() > 0)
    }

    /// How many steps of a kind the plan has.
    pub fn count(&self, kind: StepKind) -> usize {
        self.graph.node_weights().filter(|s| s.kind == kind).count()
    }
}
