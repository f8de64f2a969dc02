//! The spec layer: read a YAML spec, decode it strictly, and return validated types.
//!
//! Validation happens while decoding (custom `Deserialize` impls and `try_from`),
//! so every error carries the `line:col` of the value that caused it.
//! Checks that need a live database (does the table exist?) belong to the plan.

mod interval;
mod name;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use crate::pg::{ConnInfo, QualifiedName};

pub use interval::ChunkInterval;
pub use name::parse_qualified_name;

/// The largest `workers` value accepted; each worker holds two connections.
pub const MAX_WORKERS: usize = 64;

/// A spec that failed to load: the file, the position when known, and the reason.
#[derive(Debug, thiserror::Error)]
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

/// How thoroughly a move is verified.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Deserialize,
    serde::Serialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum VerifyLevel {
    /// No verification.
    None,
    /// Row counts per window.
    Count,
    /// Row counts plus an order-independent checksum of every column of every row, per window.
    #[default]
    Checksum,
}

impl VerifyLevel {
    /// The word used in the spec and in reports.
    pub fn label(self) -> &'static str {
        match self {
            VerifyLevel::None => "none",
            VerifyLevel::Count => "count",
            VerifyLevel::Checksum => "checksum",
        }
    }
}

/// A validated spec: everything the plan needs, with no loose strings left.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Where the spec was read from.
    pub path: PathBuf,
    /// The database rows are read from.
    pub source: ConnInfo,
    /// The database rows are written to.
    pub target: ConnInfo,
    /// How many windows may run at once.
    pub workers: usize,
    /// How `apply` verifies the move.
    pub verify: VerifyLevel,
    /// The tables to move, in spec order.
    pub tables: Vec<TableSpec>,
}

/// One table to move.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// The table on the source.
    pub source: QualifiedName,
    /// The table on the target (the same name unless `target:` renames it).
    pub target: QualifiedName,
    /// The shape it must have on the target; `None` keeps the source's shape.
    pub hypertable: Option<HypertableSpec>,
}

/// How a table must look on the target, in `create_hypertable`'s own terms.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawHypertable")]
pub struct HypertableSpec {
    /// The column TimescaleDB partitions by time.
    pub time_column: String,
    /// The width of each chunk along the time column; `None` takes TimescaleDB's default.
    pub chunk_time_interval: Option<ChunkInterval>,
    /// An optional hash (space) dimension.
    pub hash: Option<HashDimension>,
}

/// A hash (space) partitioning dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct HashDimension {
    /// The column hashed.
    pub column: String,
    /// How many partitions; at least 1.
    pub number_partitions: i16,
}

/// Read and validate a spec file.
pub fn load(path: &Path) -> Result<Spec, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|e| SpecError {
        file: path.to_path_buf(),
        position: None,
        message: format!("cannot read spec: {e}"),
    })?;
    parse(path, &text)
}

/// Validate spec text; `path` is used in messages only.
pub fn parse(path: &Path, text: &str) -> Result<Spec, SpecError> {
    let raw: RawSpec = serde_yaml::from_str(text).map_err(|e| from_yaml_error(path, &e))?;
    resolve(path, raw)
}

fn from_yaml_error(path: &Path, err: &serde_yaml::Error) -> SpecError {
    let mut message = err.to_string();
    // The crate appends " at line L column C"; we print the position up front instead.
    if let Some(idx) = message.rfind(" at line ") {
        message.truncate(idx);
    }
    SpecError {
        file: path.to_path_buf(),
        position: err.location().map(|l| (l.line(), l.column())),
        message,
    }
}

/// Cross-table checks that no single value can make on its own.
fn resolve(path: &Path, raw: RawSpec) -> Result<Spec, SpecError> {
    let err = |message: String| SpecError {
        file: path.to_path_buf(),
        position: None,
        message,
    };
    if raw.tables.is_empty() {
        return Err(err("tables: list at least one table to move".into()));
    }
    let mut tables = Vec::with_capacity(raw.tables.len());
    let mut seen_targets: BTreeMap<QualifiedName, usize> = BTreeMap::new();
    let mut seen_sources: BTreeMap<QualifiedName, usize> = BTreeMap::new();
    for (i, t) in raw.tables.into_iter().enumerate() {
        let source = t.name.0;
        let target = t.target.map(|n| n.0).unwrap_or_else(|| source.clone());
        if let Some(first) = seen_sources.insert(source.clone(), i) {
            return Err(err(format!(
                "tables[{i}]: {source} is listed twice (also tables[{first}])"
            )));
        }
        if let Some(first) = seen_targets.insert(target.clone(), i) {
            return Err(err(format!(
                "tables[{i}]: target {target} is already the target of tables[{first}]"
            )));
        }
        tables.push(TableSpec {
            source,
            target,
            hypertable: t.hypertable,
        });
    }
    Ok(Spec {
        path: path.to_path_buf(),
        source: raw.source.0,
        target: raw.target.0,
        workers: raw.workers.unwrap_or(4),
        verify: raw.verify.unwrap_or_default(),
        tables,
    })
}

// ---------------------------------------------------------------------------
// Raw, serde-facing types. Unknown keys are errors everywhere.

// The doc comments below are the descriptions in the JSON Schema (`hypermove schema`),
// which editors show while a spec is written.

/// A hypermove spec: which tables move from which database to which, and the shape
/// each must have on arrival.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "hypermove spec")]
struct RawSpec {
    /// Spec format version. Always 1.
    #[allow(dead_code)] // checked while decoding; only version 1 exists
    #[schemars(schema_with = "version_schema")]
    version: Version,
    /// The database rows are read from: a `postgresql://` URI or a `key=value` DSN.
    #[schemars(with = "String")]
    source: Conn,
    /// The database rows are written to: a `postgresql://` URI or a `key=value` DSN.
    #[schemars(with = "String")]
    target: Conn,
    /// How many steps (copy windows, index builds) run at once. Default 4.
    #[serde(default, deserialize_with = "workers")]
    #[schemars(range(min = 1, max = 64))]
    workers: Option<usize>,
    /// How `apply` verifies the move: `none`, `count` (rows per window) or
    /// `checksum` (rows plus a checksum of every value, per window; the default).
    #[serde(default)]
    verify: Option<VerifyLevel>,
    /// The tables to move.
    #[schemars(length(min = 1))]
    tables: Vec<RawTable>,
}

/// One table to move.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Table")]
struct RawTable {
    /// The table on the source, as `schema.table` (a bare name is in `public`;
    /// double-quote parts that need it).
    #[schemars(with = "String")]
    name: Name,
    /// The table on the target, as `schema.table`. Defaults to `name`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    target: Option<Name>,
    /// How the table must look on the target, in create_hypertable's terms. Absent:
    /// a hypertable keeps its source dimensions, a plain table stays plain.
    #[serde(default)]
    #[schemars(with = "Option<RawHypertable>")]
    hypertable: Option<HypertableSpec>,
}

/// The target hypertable's dimensions, named as create_hypertable names them.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Hypertable")]
struct RawHypertable {
    /// The column to partition by time: timestamptz, timestamp, date or an integer type.
    time_column: String,
    /// Chunk width: an interval such as `7 days` or `12 hours`, or an integer for
    /// integer time columns. Default: TimescaleDB's (7 days).
    #[serde(default)]
    #[schemars(schema_with = "interval_schema")]
    chunk_time_interval: Option<RawInterval>,
    /// A column to hash into `number_partitions` space partitions.
    #[serde(default)]
    partitioning_column: Option<String>,
    /// Number of hash partitions; required with `partitioning_column`.
    #[serde(default)]
    #[schemars(range(min = 1, max = 32767))]
    number_partitions: Option<i64>,
}

fn version_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "integer", "const": 1 })
}

fn interval_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "oneOf": [
            { "type": "string", "pattern": "^\\s*\\d+\\s*[A-Za-z]+(\\s+\\d+\\s*[A-Za-z]+)*\\s*$", "examples": ["7 days", "12 hours"] },
            { "type": "integer", "minimum": 1 }
        ]
    })
}

/// The JSON Schema of the spec format, generated from the types that decode it.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(RawSpec);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

impl TryFrom<RawHypertable> for HypertableSpec {
    type Error = String;

    fn try_from(raw: RawHypertable) -> Result<Self, String> {
        if raw.time_column.is_empty() {
            return Err("time_column must not be empty".into());
        }
        let hash = match (raw.partitioning_column, raw.number_partitions) {
            (None, None) => None,
            (Some(_), None) => {
                return Err("partitioning_column needs number_partitions (at least 1)".into());
            }
            (None, Some(_)) => {
                return Err("number_partitions needs a partitioning_column to hash".into());
            }
            (Some(column), Some(n)) => {
                if column.is_empty() {
                    return Err("partitioning_column must not be empty".into());
                }
                let number_partitions =
                    i16::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
                        format!("number_partitions must be between 1 and 32767, not {n}")
                    })?;
                Some(HashDimension {
                    column,
                    number_partitions,
                })
            }
        };
        Ok(HypertableSpec {
            time_column: raw.time_column,
            chunk_time_interval: raw.chunk_time_interval.map(|i| i.0),
            hash,
        })
    }
}

/// `version: 1`, the only version so far.
struct Version;

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u32::deserialize(d)?;
        if v == 1 {
            Ok(Version)
        } else {
            Err(serde::de::Error::custom(format!(
                "unsupported spec version {v}; this hypermove reads version 1"
            )))
        }
    }
}

/// A connection string, checked for syntax (never echoed: it may hold a password).
struct Conn(ConnInfo);

impl<'de> Deserialize<'de> for Conn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ConnInfo::parse(&s)
            .map(Conn)
            .map_err(serde::de::Error::custom)
    }
}

/// A `schema.table` name, with PostgreSQL's quoting and case rules.
struct Name(QualifiedName);

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_qualified_name(&s)
            .map(Name)
            .map_err(serde::de::Error::custom)
    }
}

fn workers<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let n = i64::deserialize(d)?;
    if (1..=MAX_WORKERS as i64).contains(&n) {
        Ok(Some(n as usize))
    } else {
        Err(serde::de::Error::custom(format!(
            "workers must be between 1 and {MAX_WORKERS}, not {n}"
        )))
    }
}

/// `chunk_time_interval`: a string such as `7 days`, or an integer for integer time.
struct RawInterval(ChunkInterval);

impl<'de> Deserialize<'de> for RawInterval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor rather than an untagged enum: untagged buffers the value and
        // the error would lose its position.
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawInterval;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an interval such as `7 days`, or an integer for integer time columns")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawInterval, E> {
                ChunkInterval::integer(v)
                    .map(RawInterval)
                    .map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawInterval, E> {
                let v =
                    i64::try_from(v).map_err(|_| E::custom("chunk_time_interval is too large"))?;
                self.visit_i64(v)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawInterval, E> {
                ChunkInterval::parse_time(v)
                    .map(RawInterval)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Spec, SpecError> {
        parse(Path::new("spec.yaml"), text)
    }

    const BASE: &str = "version: 1\nsource: postgresql://postgres@127.0.0.1:55417/demo\ntarget: postgresql://postgres@127.0.0.1:55418/demo\n";

    #[test]
    fn reads_the_minimal_spec() {
        let spec = parse_str(&format!(
            "{BASE}workers: 4\ntables:\n  - name: public.devices\n  - name: public.conditions\n    target: metrics.conditions\n    hypertable:\n      time_column: time\n      chunk_time_interval: 7 days\n      partitioning_column: device_id\n      number_partitions: 4\n"
        ))
        .unwrap();
        assert_eq!(spec.workers, 4);
        assert_eq!(spec.tables.len(), 2);
        assert_eq!(
            spec.tables[0].target,
            QualifiedName::new("public", "devices")
        );
        let t = &spec.tables[1];
        assert_eq!(t.target, QualifiedName::new("metrics", "conditions"));
        let h = t.hypertable.as_ref().unwrap();
        assert_eq!(h.time_column, "time");
        assert_eq!(h.chunk_time_interval.unwrap().to_string(), "7 days");
        assert_eq!(h.hash.as_ref().unwrap().number_partitions, 4);
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let err = parse_str(&format!(
            "{BASE}tables:\n  - name: public.conditions\n    hypertable:\n      time_column: time\n      chunk_interval: 7 days\n"
        ))
        .unwrap_err();
        assert_eq!(err.position, Some((8, 7)), "{err}");
        assert!(err.to_string().starts_with("spec.yaml:8:7: "), "{err}");
        assert!(
            err.message.contains("unknown field `chunk_interval`"),
            "{err}"
        );
    }

    #[test]
    fn number_partitions_needs_a_column() {
        let err = parse_str(&format!(
            "{BASE}tables:\n  - name: public.conditions\n    hypertable:\n      time_column: time\n      number_partitions: 4\n"
        ))
        .unwrap_err();
        assert!(
            err.message
                .contains("number_partitions needs a partitioning_column"),
            "{err}"
        );
        assert!(err.position.is_some(), "{err}");
    }

    #[test]
    fn bad_interval_is_located() {
        let err = parse_str(&format!(
            "{BASE}tables:\n  - name: public.conditions\n    hypertable:\n      time_column: time\n      chunk_time_interval: 7 dayz\n"
        ))
        .unwrap_err();
        assert!(err.message.contains("unknown unit `dayz`"), "{err}");
        assert_eq!(err.position.map(|p| p.0), Some(8), "{err}");
    }

    #[test]
    fn two_tables_onto_one_target_are_refused() {
        let err = parse_str(&format!(
            "{BASE}tables:\n  - name: public.a\n    target: public.c\n  - name: public.b\n    target: public.c\n"
        ))
        .unwrap_err();
        assert!(
            err.message.contains("already the target of tables[0]"),
            "{err}"
        );
    }

    #[test]
    fn wrong_version_and_missing_tables() {
        let err = parse_str(&BASE.replace("version: 1", "version: 2")).unwrap_err();
        assert!(err.message.contains("unsupported spec version 2"), "{err}");
        let err = parse_str(BASE).unwrap_err();
        assert!(err.message.contains("missing field `tables`"), "{err}");
    }

    #[test]
    fn checked_in_json_schema_matches_the_types() {
        let checked_in = include_str!("../../schemas/hypermove.schema.json");
        assert!(
            checked_in == json_schema(),
            "schemas/hypermove.schema.json is stale: run `cargo run -- schema > schemas/hypermove.schema.json`"
        );
    }

    #[test]
    fn password_is_not_echoed_by_a_bad_connection_string() {
        let err = parse_str(
            "version: 1\nsource: 'host=x password=hunter2 bogus'\ntarget: postgresql://a@b/c\ntables: [{name: a}]\n",
        )
        .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
