//! The spec as written: serde types that reject unknown keys. Values stay loose
//! here (strings, integers); `resolve` checks them all and reports every problem.
//!
//! The doc comments are the descriptions in the JSON Schema (`hypermove schema`),
//! which editors show while a spec is being written.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{JobsSetting, OnUnsupported, VerifyLevel};

/// A hypermove spec: which tables move from which database to which, and the shape
/// each must have on arrival.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "hypermove spec")]
pub struct RawSpec {
    /// Spec format version. Always 1.
    #[schemars(schema_with = "version_schema")]
    pub version: i64,
    /// The database rows are read from: a `postgresql://` URI or a `key=value` DSN.
    /// `${VAR}` and `${VAR:-default}` are taken from the environment, and PG*
    /// variables and ~/.pgpass fill in what the string leaves out, as in libpq.
    /// Or, for `hypermove restore`, `{directory: PATH}`: a backup directory.
    pub source: RawEndpoint,
    /// The database rows are written to; same forms as `source`. Or, for
    /// `hypermove backup`, `{directory: PATH}`: the backup directory to write.
    pub target: RawEndpoint,
    /// How many steps (copy windows, index builds, checks) run at once. Default 4.
    #[serde(default)]
    #[schemars(range(min = 1, max = 64))]
    pub workers: Option<i64>,
    /// How `apply` verifies the move: `none`, `count` (rows per window) or
    /// `checksum` (rows plus a checksum of every value, per window; the default).
    #[serde(default)]
    pub verify: Option<VerifyLevel>,
    /// Split a source chunk into several copy windows when its estimated row count
    /// is above this.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_window_rows: Option<i64>,
    /// Split a source chunk into several copy windows when its estimated size in
    /// bytes is above this.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_window_bytes: Option<i64>,
    /// Move whole schemas: `{source_schema: target_schema}`. A table's own `target:`
    /// takes precedence.
    #[serde(default)]
    pub schema_map: Option<BTreeMap<String, String>>,
    /// Where tables and indexes in a named tablespace go on the target:
    /// `{source_tablespace: target_tablespace}` (`pg_default` for the target's default).
    /// An unmapped tablespace keeps its name, and must exist on the target.
    #[serde(default)]
    pub tablespace_map: Option<BTreeMap<String, String>>,
    /// Also carry each table's owner, table grants and column grants, and the
    /// default privileges of its schema. The roles must exist on the target; missing
    /// ones are named before anything is written.
    #[serde(default)]
    pub grants: Option<bool>,
    /// What to do with source features a data move cannot carry (compression,
    /// continuous aggregates, policies): `refuse` (the default) or `warn` and skip them.
    #[serde(default)]
    pub on_unsupported: Option<OnUnsupported>,
    /// The target's jobs and policies are created paused and stay so until the move is
    /// verified; then `enable` (the default) enables those scheduled on the source,
    /// and `paused` leaves them all paused.
    #[serde(default)]
    pub jobs: Option<JobsSetting>,
    /// Settings for every table that does not set them itself.
    #[serde(default)]
    pub defaults: Option<RawDefaults>,
    /// Also move every source table whose `schema.table` matches one of these glob
    /// patterns (`*`, `?`, `[…]`). A hypertable's chunks are never selected.
    #[serde(default)]
    pub include: Option<Vec<String>>,
    /// Leave out tables matched by `include` that also match one of these patterns.
    #[serde(default)]
    pub exclude: Option<Vec<String>>,
    /// The tables to move, each with its own settings.
    #[serde(default)]
    pub tables: Option<Vec<RawTable>>,
}

/// Settings that apply to every table unless the table sets its own.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Defaults")]
pub struct RawDefaults {
    /// Chunk width for every table that is a hypertable on the target.
    #[serde(default)]
    #[schemars(schema_with = "interval_schema")]
    pub chunk_time_interval: Option<IntOrText>,
    /// Whether the target gets TimescaleDB's default indexes (default true).
    #[serde(default)]
    pub create_default_indexes: Option<bool>,
    /// Copy only rows at or after this time (inclusive).
    #[serde(default)]
    #[schemars(schema_with = "time_schema")]
    pub from: Option<IntOrText>,
    /// Copy only rows before this time (exclusive).
    #[serde(default)]
    #[schemars(schema_with = "time_schema")]
    pub until: Option<IntOrText>,
}

/// One table to move.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Table")]
pub struct RawTable {
    /// The table on the source, as `schema.table` (a bare name is in `public`;
    /// double-quote parts that need it).
    pub name: String,
    /// The table on the target, as `schema.table`. Defaults to `name`, with
    /// `schema_map` applied.
    #[serde(default)]
    pub target: Option<String>,
    /// How the table must look on the target, in create_hypertable's terms. Absent:
    /// a hypertable keeps its source dimensions, a plain table stays plain.
    #[serde(default)]
    pub hypertable: Option<RawHypertable>,
    /// Compression (columnstore) on the target hypertable: by default as on the source.
    /// Changing `segment_by`/`order_by` re-compresses with the new settings on the way.
    #[serde(default)]
    pub compression: Option<RawCompression>,
    /// Copy only rows whose time is at or after this (inclusive): a timestamp such as
    /// `2025-01-01` or `2025-01-01T06:00:00Z`, or an integer for integer time.
    #[serde(default)]
    #[schemars(schema_with = "time_schema")]
    pub from: Option<IntOrText>,
    /// Copy only rows whose time is before this (exclusive).
    #[serde(default)]
    #[schemars(schema_with = "time_schema")]
    pub until: Option<IntOrText>,
    /// This table's own `tablespace_map` entries (its indexes included), which take
    /// precedence over the top-level ones.
    #[serde(default)]
    pub tablespace_map: Option<BTreeMap<String, String>>,
}

/// Compression (columnstore) of a target hypertable. Every key left out is the
/// source's setting; a source without compression has none.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Compression")]
pub struct RawCompression {
    /// `false` moves the table uncompressed (and without a compression policy), on
    /// purpose; `true` compresses it even if the source does not. Default: as the source.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The columns to segment by (`timescaledb.segmentby`), e.g. `[device_id]`; `[]` for none.
    #[serde(default)]
    pub segment_by: Option<Vec<String>>,
    /// The order within a segment (`timescaledb.orderby`), as SQL: `time DESC`.
    #[serde(default)]
    pub order_by: Option<String>,
    /// The compression policy's threshold: compress chunks older than this, an interval
    /// such as `7 days` (an integer for integer time). Default: the source's policy.
    #[serde(default)]
    #[schemars(schema_with = "interval_schema")]
    pub compress_after: Option<IntOrText>,
}

/// The target hypertable, named as create_hypertable names its parameters.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Hypertable")]
pub struct RawHypertable {
    /// The column to partition by time: timestamptz, timestamp, date or an integer type.
    #[serde(default)]
    pub time_column: Option<String>,
    /// Chunk width: an interval such as `7 days` or `12 hours`, or an integer for
    /// integer time columns. Default: the source's, else TimescaleDB's (7 days).
    #[serde(default)]
    #[schemars(schema_with = "interval_schema")]
    pub chunk_time_interval: Option<IntOrText>,
    /// A column to hash into `number_partitions` space partitions.
    #[serde(default)]
    pub partitioning_column: Option<String>,
    /// Number of hash partitions; required with `partitioning_column`.
    #[serde(default)]
    #[schemars(range(min = 1, max = 32767))]
    pub number_partitions: Option<i64>,
    /// The function that hashes `partitioning_column` (a function on the target).
    #[serde(default)]
    pub partitioning_func: Option<String>,
    /// A function that turns `time_column` into a time value (a function on the target).
    #[serde(default)]
    pub time_partitioning_func: Option<String>,
    /// The schema that holds the chunks on the target.
    #[serde(default)]
    pub associated_schema_name: Option<String>,
    /// The name prefix of the chunks on the target.
    #[serde(default)]
    pub associated_table_prefix: Option<String>,
    /// Whether the target gets TimescaleDB's default indexes (default true). hypermove
    /// builds them after the data, like every other index.
    #[serde(default)]
    pub create_default_indexes: Option<bool>,
    /// More dimensions, after the time dimension (and `partitioning_column`).
    #[serde(default)]
    pub dimensions: Option<Vec<RawDimension>>,
    /// For integer time: the function that returns "now" in the column's units.
    #[serde(default)]
    pub integer_now_func: Option<String>,
    /// Copy the source hypertable's dimensions exactly. The default when
    /// `hypertable:` is absent for a source hypertable.
    #[serde(default)]
    pub keep_source_layout: Option<bool>,
    /// Make the table a plain table on the target, even if it is a hypertable on the source.
    #[serde(default)]
    pub plain: Option<bool>,
}

/// An extra dimension: hash (`number_partitions`) or range (`chunk_time_interval`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Dimension")]
pub struct RawDimension {
    /// The column.
    pub column: String,
    /// Hash partitions, for a hash dimension.
    #[serde(default)]
    #[schemars(range(min = 1, max = 32767))]
    pub number_partitions: Option<i64>,
    /// The hash function, for a hash dimension.
    #[serde(default)]
    pub partitioning_func: Option<String>,
    /// The range width, for a range dimension.
    #[serde(default)]
    #[schemars(schema_with = "interval_schema")]
    pub chunk_time_interval: Option<IntOrText>,
}

/// An integer or a string, kept as written until `resolve` knows what it must be.
#[derive(Debug, Clone, PartialEq)]
pub enum IntOrText {
    /// A YAML integer.
    Int(i64),
    /// Anything else written as a scalar.
    Text(String),
}

impl<'de> Deserialize<'de> for IntOrText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, not `#[serde(untagged)]`: untagged buffers the value, and its
        // error would lose the position and say nothing useful.
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = IntOrText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a whole number, or text such as `7 days` or `2025-01-01`")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IntOrText, E> {
                Ok(IntOrText::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IntOrText, E> {
                i64::try_from(v)
                    .map(IntOrText::Int)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IntOrText, E> {
                Ok(IntOrText::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
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

fn time_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "oneOf": [
            { "type": "string", "examples": ["2025-01-01", "2025-01-01T06:00:00Z"] },
            { "type": "integer" }
        ]
    })
}

/// Either end of a move: a database, or a backup directory.
#[derive(Debug, JsonSchema)]
#[serde(untagged)]
pub enum RawEndpoint {
    /// A connection string.
    Database(String),
    /// A backup directory.
    Directory(RawDirectory),
}

/// `{directory: PATH}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDirectory {
    /// The directory, relative to the current directory when not absolute.
    pub directory: String,
}

// By hand rather than `#[serde(untagged)]`, whose error ("data did not match any
// variant") names neither the key nor what was expected.
impl<'de> Deserialize<'de> for RawEndpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawEndpoint;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a connection string, or {directory: PATH}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawEndpoint, E> {
                Ok(RawEndpoint::Database(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawEndpoint, A::Error> {
                RawDirectory::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawEndpoint::Directory)
            }
        }
        d.deserialize_any(Visitor)
    }
}
