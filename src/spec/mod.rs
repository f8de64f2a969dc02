//! The spec layer: read a YAML spec, decode it strictly, and return validated types.
//!
//! Two stages, as ripgrep does for its arguments:
//! 1. **parse** (`raw`): serde decoding that rejects unknown keys and wrong types,
//!    with `file:line:col` and a did-you-mean for misspelt keys;
//! 2. **resolve** (`resolve`): every value is checked and *all* problems are
//!    reported at once, each at its own `file:line:col`.
//!
//! Checks that need a live database (does the table exist?) belong to the plan.

mod interval;
mod name;
mod positions;
mod raw;
mod resolve;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::pg::{ConnInfo, QualifiedName};

pub use interval::{ChunkInterval, IntervalError};
pub use name::{NameError, parse_qualified_name};
pub use positions::Positions;
pub use resolve::{InterpolateError, interpolate};

/// The largest `workers` value accepted; each worker holds two connections.
pub const MAX_WORKERS: usize = 64;

/// Specs larger than this are refused before parsing: a spec is a page of YAML, and
/// a huge file is a mistake or an attack.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

/// One problem in a spec: the file, the position when known, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The spec file as given on the command line.
    pub file: PathBuf,
    /// 1-based line and column of the offending value, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong, in one line.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => {
                write!(f, "{}:{line}:{col}: {}", self.file.display(), self.message)
            }
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Every problem found in a spec, in file order; never empty.
#[derive(Debug, Clone, thiserror::Error)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// How thoroughly a move is verified.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    Deserialize,
    Serialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum VerifyLevel {
    /// No verification.
    None,
    /// Row counts per window.
    Count,
    /// Row counts plus an order-independent checksum of every column of every row, per
    /// window: the rows are read with binary COPY and hashed by hypermove.
    #[default]
    Checksum,
    /// The same check computed by each server (the MD5 of each row's text form): no
    /// row crosses the network, for a hypermove far from the databases, at the cost of
    /// the servers' CPU. Backups record this checksum.
    #[serde(rename = "checksum-sql")]
    #[value(name = "checksum-sql")]
    ChecksumSql,
}

impl VerifyLevel {
    /// The word used in the spec and in reports.
    pub fn label(self) -> &'static str {
        match self {
            VerifyLevel::None => "none",
            VerifyLevel::Count => "count",
            VerifyLevel::Checksum => "checksum",
            VerifyLevel::ChecksumSql => "checksum-sql",
        }
    }
}

/// What to do with source features that a data move cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnUnsupported {
    /// Refuse the plan, naming the object (the default).
    #[default]
    Refuse,
    /// Say so in the plan's warnings, and move the data without it.
    Warn,
}

/// What becomes of the target's jobs and policies once the move is verified: they
/// are created paused (`scheduled => false`) and stay so while the move runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobsSetting {
    /// Enable, once verification passes, every job that is scheduled on the source
    /// (the default; a job paused on the source stays paused).
    #[default]
    Enable,
    /// Leave every job paused on the target, for someone to enable by hand.
    Paused,
}

/// One end of a move.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// A database.
    Database(Box<ConnInfo>),
    /// A backup directory.
    Directory(PathBuf),
}

impl Endpoint {
    /// The database, when this end is one.
    pub fn database(&self) -> Option<&ConnInfo> {
        match self {
            Endpoint::Database(c) => Some(c),
            Endpoint::Directory(_) => None,
        }
    }

    /// The backup directory, when this end is one.
    pub fn directory(&self) -> Option<&Path> {
        match self {
            Endpoint::Directory(d) => Some(d),
            Endpoint::Database(_) => None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Database(c) => c.fmt(f),
            Endpoint::Directory(d) => write!(f, "directory {}", d.display()),
        }
    }
}

/// A command that needs a database at one end was given a spec with a backup
/// directory there; the message names the command that reads or writes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The source is a directory: `hypermove restore` reads it.
    #[error(
        "{}: the source is a backup directory; restore it with `hypermove restore {}`",
        .0.display(),
        .0.display()
    )]
    SourceIsDirectory(PathBuf),
    /// The target is a directory: `hypermove backup` writes it.
    #[error(
        "{}: the target is a backup directory; write it with `hypermove backup {}`",
        .0.display(),
        .0.display()
    )]
    TargetIsDirectory(PathBuf),
}

impl Spec {
    /// The source database; a directory source belongs to `hypermove restore`.
    pub fn source_db(&self) -> Result<&ConnInfo, EndpointError> {
        self.source
            .database()
            .ok_or_else(|| EndpointError::SourceIsDirectory(self.path.clone()))
    }

    /// The target database; a directory target belongs to `hypermove backup`.
    pub fn target_db(&self) -> Result<&ConnInfo, EndpointError> {
        self.target
            .database()
            .ok_or_else(|| EndpointError::TargetIsDirectory(self.path.clone()))
    }
}

/// A validated spec: everything the plan needs, with no loose strings left.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Where the spec was read from.
    pub path: PathBuf,
    /// Where rows are read from: a database, or a backup directory (`restore`).
    pub source: Endpoint,
    /// Where rows are written to: a database, or a backup directory (`backup`).
    pub target: Endpoint,
    /// How many steps may run at once.
    pub workers: usize,
    /// How `apply` verifies the move.
    pub verify: VerifyLevel,
    /// Carry owners, table and column grants, and the schemas' default privileges.
    pub grants: bool,
    /// Whether the spec says `grants:` at all: unsaid, a move that would leave owners
    /// or grants behind is refused rather than done without them.
    pub grants_given: bool,
    /// Compression, continuous aggregates, policies: refuse or warn.
    pub on_unsupported: OnUnsupported,
    /// Target jobs once the move is verified: enabled as on the source, or left paused.
    pub jobs: JobsSetting,
    /// Split windows estimated above this many rows.
    pub max_window_rows: Option<u64>,
    /// Split windows estimated above this many bytes.
    pub max_window_bytes: Option<u64>,
    /// Source schema → target schema, for tables without their own `target:`.
    pub schema_map: BTreeMap<String, String>,
    /// Source tablespace → target tablespace (`tablespace_map:`); each table's
    /// `TableSpec::tablespace_map` holds these with its own entries over them.
    pub tablespace_map: BTreeMap<String, String>,
    /// Glob patterns of further tables to move.
    pub include: Vec<Pattern>,
    /// Glob patterns that take tables back out of `include`.
    pub exclude: Vec<Pattern>,
    /// Settings for tables that `include` selects.
    pub defaults: TableDefaults,
    /// The tables named explicitly, in spec order.
    pub tables: Vec<TableSpec>,
}

/// A glob over `schema.table`.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// As written.
    pub text: String,
    matcher: globset::GlobMatcher,
}

/// A glob that does not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid pattern `{text}`: {}", .source.kind())]
pub struct PatternError {
    /// The pattern as written.
    pub text: String,
    /// What globset found wrong.
    pub source: globset::Error,
}

impl Pattern {
    /// Compile a glob over `schema.table`.
    pub fn new(text: &str) -> Result<Self, PatternError> {
        let glob = globset::GlobBuilder::new(text)
            .literal_separator(false)
            .build()
            .map_err(|source| PatternError {
                text: text.to_string(),
                source,
            })?;
        Ok(Pattern {
            text: text.to_string(),
            matcher: glob.compile_matcher(),
        })
    }

    /// Whether a table's `schema.table` (unquoted) matches.
    pub fn matches(&self, name: &QualifiedName) -> bool {
        self.matcher
            .is_match(format!("{}.{}", name.schema, name.name))
    }
}

/// Defaults for every table, from `defaults:`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TableDefaults {
    /// Chunk width for hypertable targets that do not set one.
    pub chunk_time_interval: Option<ChunkInterval>,
    /// TimescaleDB's default indexes on hypertable targets.
    pub create_default_indexes: Option<bool>,
    /// Lower time bound (inclusive).
    pub from: Option<TimeValue>,
    /// Upper time bound (exclusive).
    pub until: Option<TimeValue>,
}

/// Where a table entry came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `tables[1]`, or `include \`public.*\``.
    pub label: String,
    /// The entry's position in the spec, when it has one.
    pub position: Option<(usize, usize)>,
}

/// One table to move.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// The table on the source.
    pub source: QualifiedName,
    /// The table on the target.
    pub target: QualifiedName,
    /// The shape it must have on the target.
    pub shape: TargetShape,
    /// Whether a hypertable target gets TimescaleDB's default indexes.
    pub create_default_indexes: bool,
    /// `defaults.chunk_time_interval`, for hypertable targets that set none and whose
    /// time column it fits (an interval for time types, an integer for integers).
    pub default_chunk_time_interval: Option<ChunkInterval>,
    /// Copy only rows at or after this time.
    pub from: Option<TimeValue>,
    /// Copy only rows before this time.
    pub until: Option<TimeValue>,
    /// Source tablespace → target tablespace for the table and its indexes: the
    /// spec's `tablespace_map:`, with the entry's own over it.
    pub tablespace_map: BTreeMap<String, String>,
    /// The spec's `compression:` block, if any: what to change of the source's.
    pub compression: Option<CompressionSpec>,
    /// Where the entry came from.
    pub origin: Origin,
}

/// A `compression:` block: each `None` keeps the source's setting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompressionSpec {
    /// Compress on the target or not; `None`: as the source.
    pub enabled: Option<bool>,
    /// `segmentby` columns.
    pub segment_by: Option<Vec<String>>,
    /// `orderby`, as SQL.
    pub order_by: Option<String>,
    /// The compression policy's threshold.
    pub compress_after: Option<Threshold>,
}

/// A policy's threshold: an interval, which unlike a chunk interval may be counted
/// in months and years, or an integer for integer time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Threshold {
    /// An interval's text, checked to be one PostgreSQL reads (`30 days`, `1 year`).
    Interval(String),
    /// An integer, in the time column's units.
    Integer(i64),
}

/// Whether `text` reads as an interval: `<number> <unit>` pairs (`1 year 2 months`)
/// and `HH:MM[:SS]` parts, nothing else, so a typo is caught in the spec rather than
/// when the policy is created at the end of a move.
pub fn is_interval_text(text: &str) -> bool {
    const UNITS: &[&str] = &[
        "microsecond",
        "millisecond",
        "second",
        "sec",
        "minute",
        "min",
        "hour",
        "day",
        "week",
        "month",
        "mon",
        "year",
        "decade",
        "century",
    ];
    let unit = |w: &str| {
        let w = w.to_ascii_lowercase();
        let w = w.strip_suffix('s').unwrap_or(&w).to_string();
        UNITS.contains(&w.as_str()) || w == "centurie"
    };
    let clock = |w: &str| {
        let parts: Vec<&str> = w.split(':').collect();
        (2..=3).contains(&parts.len())
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.'))
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut i = 0;
    let mut any = false;
    while i < words.len() {
        if clock(words[i]) {
            i += 1;
        } else if words[i].trim_start_matches('-').parse::<f64>().is_ok()
            && words.get(i + 1).is_some_and(|u| unit(u))
        {
            i += 2;
        } else {
            return false;
        }
        any = true;
    }
    any
}

/// The shape a table must have on the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TargetShape {
    /// As on the source: a plain table stays plain, a hypertable keeps its
    /// dimensions (with the default chunk interval, when one applies).
    Keep,
    /// A plain table, whatever the source is.
    Plain,
    /// A hypertable with these dimensions.
    Hypertable(HypertableSpec),
}

/// A target hypertable, in `create_hypertable`'s own terms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HypertableSpec {
    /// The column TimescaleDB partitions by time.
    pub time_column: String,
    /// The chunk width; `None` takes the default, the source's, or TimescaleDB's.
    pub chunk_time_interval: Option<ChunkInterval>,
    /// `time_partitioning_func`.
    pub time_partitioning_func: Option<String>,
    /// Further dimensions, in order.
    pub dimensions: Vec<DimensionSpec>,
    /// `associated_schema_name`.
    pub associated_schema_name: Option<String>,
    /// `associated_table_prefix`.
    pub associated_table_prefix: Option<String>,
    /// `integer_now_func`, for integer time.
    pub integer_now_func: Option<String>,
}

/// A dimension after the primary time dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum DimensionSpec {
    /// `by_hash(column, number_partitions, partitioning_func)`.
    Hash {
        /// The column hashed.
        column: String,
        /// How many partitions.
        number_partitions: i16,
        /// The hash function, when not TimescaleDB's.
        partitioning_func: Option<String>,
    },
    /// `by_range(column, chunk_time_interval)`.
    Range {
        /// The column.
        column: String,
        /// The range width.
        chunk_time_interval: ChunkInterval,
    },
}

/// A bound of `from:`/`until:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum TimeValue {
    /// A point in time, in microseconds since the Unix epoch (UTC).
    Micros(i64),
    /// A value of an integer time column.
    Int(i64),
}

/// Read and validate a spec file.
pub fn load(path: &Path) -> Result<Spec, SpecErrors> {
    let one = |message: String| {
        SpecErrors(vec![SpecError {
            file: path.to_path_buf(),
            position: None,
            message,
        }])
    };
    let size = std::fs::metadata(path)
        .map_err(|e| one(format!("cannot read spec: {e}")))?
        .len();
    if size > MAX_SPEC_BYTES {
        return Err(one(format!(
            "the spec is {size} bytes; specs larger than {MAX_SPEC_BYTES} bytes are refused"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| one(format!("cannot read spec: {e}")))?;
    parse(path, &text)
}

/// Validate spec text; `path` is used in messages only.
pub fn parse(path: &Path, text: &str) -> Result<Spec, SpecErrors> {
    resolve::parse(path, text, &|k| std::env::var(k).ok())
}

/// The JSON Schema of the spec format, generated from the types that decode it.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(raw::RawSpec);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn policy_thresholds_read_as_intervals_or_not() {
        for ok in [
            "7 days",
            "1 year 6 months",
            "3 days 12:00:00",
            "90 mins",
            "1 week",
            "-1 day",
        ] {
            assert!(super::is_interval_text(ok), "{ok}");
        }
        for bad in [
            "",
            "7",
            "7 fortnights",
            "days 7",
            "1 year and a day",
            "12:00:00:00",
        ] {
            assert!(!super::is_interval_text(bad), "{bad}");
        }
    }

    #[test]
    fn checked_in_json_schema_matches_the_types() {
        let checked_in = include_str!("../../schemas/hypermove.schema.json");
        assert!(
            checked_in == super::json_schema(),
            "schemas/hypermove.schema.json is stale: run `cargo run -- schema > schemas/hypermove.schema.json`"
        );
    }

    #[test]
    fn a_directory_end_names_the_command_for_it() {
        let spec = |source: &str, target: &str| {
            let text =
                format!("version: 1\nsource: {source}\ntarget: {target}\ntables: [{{name: a}}]\n");
            super::parse(std::path::Path::new("s.yaml"), &text).unwrap()
        };
        let db = "postgresql://u@h/db";
        assert_eq!(
            spec("{directory: d}", db)
                .source_db()
                .unwrap_err()
                .to_string(),
            "s.yaml: the source is a backup directory; restore it with `hypermove restore s.yaml`"
        );
        assert_eq!(
            spec(db, "{directory: d}")
                .target_db()
                .unwrap_err()
                .to_string(),
            "s.yaml: the target is a backup directory; write it with `hypermove backup s.yaml`"
        );
    }
}
