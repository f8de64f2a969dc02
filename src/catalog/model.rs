//! What the catalog layer reads, as plain structs: servers, tables and everything a
//! table carries (columns, constraints, indexes, hypertable dimensions and chunks,
//! types, sequences). The plan is built from these alone.

use serde::Serialize;

use crate::pg::QualifiedName;

/// Facts about a server.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ServerInfo {
    /// `server_version`, e.g. `17.12 (Debian 17.12-0+deb13u1)`.
    pub version: String,
    /// `server_version_num`, e.g. 170012.
    pub version_num: i32,
    /// The database connected to.
    pub database: String,
    /// TimescaleDB's installed version in this database, if installed.
    pub timescaledb: Option<String>,
    /// The schema TimescaleDB's functions live in, if installed.
    pub timescaledb_schema: Option<String>,
    /// The TimescaleDB version the server could install, if any.
    pub timescaledb_available: Option<String>,
    /// `timescaledb.license` (`apache` or `timescale`), when the library is loaded.
    pub timescaledb_license: Option<String>,
    /// Whether the server was built with lz4 (`SET COMPRESSION lz4` works). Written
    /// only when false, so fingerprints of servers that have it stay as they were.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub lz4: bool,
    /// Whether this connection is encrypted (from `pg_stat_ssl`). Not part of
    /// fingerprints: it describes the connection, not the server.
    #[serde(default, skip_serializing)]
    pub tls: bool,
    /// Start time, port and database OID: the same on two connections only when
    /// they reach the same server. Not part of fingerprints (it changes on restart).
    #[serde(default, skip_serializing)]
    pub instance: String,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// The type family of a time column, which decides how range bounds are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum TimeType {
    /// `timestamp with time zone`.
    TimestampTz,
    /// `timestamp without time zone`.
    Timestamp,
    /// `date`.
    Date,
    /// `smallint`, `integer` or `bigint`.
    Integer,
}

impl TimeType {
    /// The time family of a type OID, if it can partition a hypertable.
    pub fn from_oid(oid: u32) -> Option<Self> {
        match oid {
            1184 => Some(TimeType::TimestampTz),
            1114 => Some(TimeType::Timestamp),
            1082 => Some(TimeType::Date),
            20 | 21 | 23 => Some(TimeType::Integer),
            _ => None,
        }
    }
}

/// A column.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// The type as SQL, with typmod (`numeric(10,2)`), qualified when user-defined.
    pub type_sql: String,
    /// The type's OID on this server.
    pub type_oid: u32,
    /// `NOT NULL`.
    pub not_null: bool,
    /// The default expression, if any (never for generated columns).
    pub default: Option<String>,
    /// The generation expression of a `GENERATED ALWAYS AS (…)` column.
    pub generated: Option<String>,
    /// `s` (stored) or `v` (virtual, PostgreSQL 18) for generated columns.
    pub generated_kind: Option<char>,
    /// `a` (ALWAYS) or `d` (BY DEFAULT) for identity columns.
    pub identity: Option<char>,
    /// A collation other than the type's default, as SQL.
    pub collation: Option<String>,
    /// Whether binary COPY can carry this column between databases.
    pub binary_ok: bool,
}

/// A constraint, kept as the server renders it except for foreign keys.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Constraint {
    /// Constraint name.
    pub name: String,
    /// What kind of constraint, with its parts.
    pub kind: ConstraintKind,
    /// The columns it is on, in order.
    pub columns: Vec<String>,
    /// `pg_get_constraintdef`: table-independent for all but foreign keys.
    pub definition: String,
}

/// Constraint kinds.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub enum ConstraintKind {
    /// `PRIMARY KEY`.
    PrimaryKey,
    /// `UNIQUE`.
    Unique,
    /// `CHECK`.
    Check,
    /// `EXCLUDE`.
    Exclusion,
    /// `FOREIGN KEY`, with what it references.
    ForeignKey(ForeignKey),
}

/// The referencing side of a foreign key.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ForeignKey {
    /// The referenced table.
    pub ref_table: QualifiedName,
    /// The referenced columns.
    pub ref_columns: Vec<String>,
    /// `confupdtype`: a/r/c/n/d.
    pub on_update: char,
    /// `confdeltype`: a/r/c/n/d.
    pub on_delete: char,
    /// `confmatchtype`: f/p/s.
    pub match_type: char,
    /// `DEFERRABLE`.
    pub deferrable: bool,
    /// `INITIALLY DEFERRED`.
    pub deferred: bool,
}

/// An index that does not back a constraint.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Index {
    /// Index name.
    pub name: String,
    /// `UNIQUE`.
    pub unique: bool,
    /// Access method (`btree`, `gin`, …).
    pub method: String,
    /// Everything after `USING method `: keys, INCLUDE, WITH, WHERE.
    pub body: String,
    /// Plain key columns, `None` for an expression key.
    pub key_columns: Vec<Option<String>>,
}

/// A dimension of a hypertable.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Dimension {
    /// The partitioning column.
    pub column: String,
    /// What kind of dimension.
    pub kind: DimensionKind,
    /// A custom partitioning function (`schema.name`), when the dimension has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioning_func: Option<String>,
}

/// Dimension kinds.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub enum DimensionKind {
    /// A range (time) dimension; width in internal units (microseconds for time).
    Range {
        /// Chunk width along this dimension.
        width: i64,
        /// Whether the column is an integer (width is then in the column's units).
        integer: bool,
        /// `integer_now_func` for integer time.
        integer_now_func: Option<String>,
    },
    /// A hash (space) dimension.
    Hash {
        /// Number of partitions.
        partitions: i16,
    },
}

/// A chunk with its range on the primary dimension.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Chunk {
    /// The chunk table.
    pub name: QualifiedName,
    /// Inclusive start in internal units; `None` when open.
    pub range_start: Option<i64>,
    /// Exclusive end in internal units; `None` when open.
    pub range_end: Option<i64>,
    /// Row estimate from `pg_class.reltuples`; `None` if never analyzed.
    #[serde(skip)]
    pub est_rows: Option<u64>,
    /// Size estimate from `relpages`.
    #[serde(skip)]
    pub est_bytes: u64,
    /// Whether the chunk is compressed (its rows then live in its compressed
    /// companion, and only a decompressing read sees them).
    #[serde(skip)]
    pub compressed: bool,
}

/// What a hypertable adds to a table.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Hypertable {
    /// Dimensions in order; the first is the primary (time) dimension.
    pub dimensions: Vec<Dimension>,
    /// Chunks ordered by range start.
    pub chunks: Vec<Chunk>,
    /// Features that a plain move cannot carry: caggs, jobs other than the policies below.
    pub unsupported: Vec<String>,
    /// Compression (columnstore) settings, when compression is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<super::Compression>,
    /// The compression and retention policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<super::JobPolicy>,
    /// The continuous aggregates on it, and those on them, each after the one it reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub continuous_aggregates: Vec<super::ContinuousAggregate>,
}

/// A user-defined type a table's columns need.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct UserType {
    /// The type's name.
    pub name: QualifiedName,
    /// `e` enum, `d` domain, `c` composite.
    pub kind: char,
    /// Creation order: deeper types (those others are built from) first.
    pub depth: i32,
    /// The extension that owns the type, if any: then the extension is what to create.
    pub extension: Option<String>,
    /// Enum labels in order.
    pub labels: Vec<String>,
    /// A domain's base type as SQL.
    pub base_type: Option<String>,
    /// A domain's NOT NULL.
    pub not_null: bool,
    /// A domain's default.
    pub default: Option<String>,
    /// A domain's constraints, as `CONSTRAINT name CHECK (…)`.
    pub checks: Vec<String>,
    /// A domain's constraints that call user functions: added after those functions
    /// are created (which may themselves take the domain's type).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub late_checks: Vec<String>,
    /// A composite's attributes, as `name type`.
    pub attributes: Vec<String>,
}

/// A sequence owned by a column: a serial (`a`) or an identity (`i`) column's.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct OwnedSequence {
    /// The owning column.
    pub column: String,
    /// The sequence.
    pub name: QualifiedName,
    /// `a` for serial (OWNED BY), `i` for identity, `n` for one no column owns (a
    /// default's, in `Table::default_sequences`).
    pub dep: char,
    /// `smallint`, `integer` or `bigint`.
    pub data_type: String,
    /// START WITH.
    pub start: i64,
    /// INCREMENT BY.
    pub increment: i64,
    /// MINVALUE.
    pub min: i64,
    /// MAXVALUE.
    pub max: i64,
    /// CACHE.
    pub cache: i64,
    /// CYCLE.
    pub cycle: bool,
    /// For a default's sequence another column owns (OWNED BY): that table and column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<(QualifiedName, String)>,
    /// The last value handed out, `None` if never used (or not readable). Not part of
    /// fingerprints: every insert moves it.
    #[serde(skip)]
    pub last_value: Option<i64>,
}

/// A user function a table needs: called by a column default, a generated column, a
/// CHECK constraint, an index, or its hypertable (integer_now_func, partitioning), or
/// called by such a function.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct UserFunction {
    /// The function's name.
    pub name: QualifiedName,
    /// Its argument types (`oidvectortypes(proargtypes)`), e.g. `text, integer`: what
    /// `to_regprocedure` resolves, unlike the identity arguments with their names.
    pub args: String,
    /// Its language (`sql`, `plpgsql`, `c`, …).
    pub language: String,
    /// `pg_get_functiondef`: the `CREATE OR REPLACE FUNCTION` that recreates it.
    pub definition: String,
    /// Creation order: functions others call come first (deeper first).
    pub depth: i32,
}

impl UserFunction {
    /// `schema.name(args)`: what names one overload, in step IDs and messages.
    pub fn signature(&self) -> String {
        format!("{}({})", self.name, self.args)
    }

    /// The signature as SQL resolves it (`to_regprocedure`), quoted.
    pub fn signature_sql(&self) -> String {
        format!("{}({})", self.name.sql(), self.args)
    }
}

/// A table and everything hypermove needs to recreate and fill it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Table {
    /// Its name.
    pub name: QualifiedName,
    /// Its OID on this server.
    pub oid: u32,
    /// Live columns in order.
    pub columns: Vec<Column>,
    /// Constraints, by name.
    pub constraints: Vec<Constraint>,
    /// Indexes that do not back a constraint, by name.
    pub indexes: Vec<Index>,
    /// User triggers, by name (never TimescaleDB's own). A backup made before
    /// triggers moved recorded their names only: those read back as triggers that
    /// cannot be recreated (`Trigger::unrecreatable`).
    #[serde(deserialize_with = "super::triggers::read_recorded")]
    pub triggers: Vec<Trigger>,
    /// User-defined types the columns need, in creation order.
    pub types: Vec<UserType>,
    /// Sequences owned by the columns (serial and identity).
    pub sequences: Vec<OwnedSequence>,
    /// Comments: `None` for the table's own, else the column's.
    pub comments: Vec<(Option<String>, String)>,
    /// Set when the table is a hypertable.
    pub hypertable: Option<Hypertable>,
    /// Tables that inherit from this plain table (never a hypertable's chunks): a
    /// query on it reads their rows too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inheritance_children: Vec<QualifiedName>,
    /// Row-level security: `None` when it is off and the table has no policies
    /// (and then absent from fingerprints, which stay as they were before it was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_security: Option<RowSecurity>,
    /// Storage settings other than the defaults: `None` when there are none (and then
    /// absent from fingerprints, which stay as they were before they were read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<TableSettings>,
    /// Extended statistics objects (`CREATE STATISTICS`), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statistics: Vec<ExtendedStatistics>,
    /// User functions the table needs, callees first. Left out of the serialized
    /// form when empty, so fingerprints of tables without any stay as they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<UserFunction>,
    /// Sequences column defaults draw from (`nextval('seq')`) that the column does
    /// not own; `column` is the column whose default it is, `dep` is `n`. Left out
    /// of the serialized form when empty, as `functions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_sequences: Vec<OwnedSequence>,
    /// Collations outside pg_catalog its columns, indexes and constraints use. Left
    /// out of the serialized form when empty, as `functions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collations: Vec<super::UserCollation>,
    /// Text search configurations outside pg_catalog its expressions name. Left out
    /// of the serialized form when empty, as `functions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text_search: Vec<super::TextSearchConfig>,
    /// The table, indexes and constraints stored in a named tablespace, and the
    /// tablespaces attached to a hypertable. Left out of the serialized form when
    /// empty, as `functions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tablespaces: Vec<super::Placement>,
    /// The TimescaleDB background jobs that touch it (see `catalog::jobs`); left out
    /// of the serialized form when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<super::SourceJob>,
    /// Row estimate for a plain table (hypertables estimate per chunk).
    #[serde(skip)]
    pub est_rows: Option<u64>,
    /// Size estimate for a plain table.
    #[serde(skip)]
    pub est_bytes: u64,
}

impl Table {
    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A table's row-level security: the switches and the policies.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RowSecurity {
    /// `ENABLE ROW LEVEL SECURITY`.
    pub enabled: bool,
    /// `FORCE ROW LEVEL SECURITY`: the owner is subject to the policies too.
    pub forced: bool,
    /// The policies, by name.
    pub policies: Vec<Policy>,
}

/// One row-level security policy (`pg_policy`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Policy {
    /// Policy name, unique per table.
    pub name: String,
    /// `PERMISSIVE` (true) or `RESTRICTIVE`.
    pub permissive: bool,
    /// `polcmd`: `r` SELECT, `a` INSERT, `w` UPDATE, `d` DELETE, `*` ALL.
    pub command: char,
    /// The roles it applies to, in order; `None` is PUBLIC.
    pub roles: Vec<Option<String>>,
    /// The `USING` expression.
    pub using: Option<String>,
    /// The `WITH CHECK` expression.
    pub with_check: Option<String>,
    /// Other relations its expressions read, as the server names them: such a
    /// policy cannot be carried (the names would be the source's).
    pub other_tables: Vec<String>,
}

/// A table's storage settings that differ from the defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct TableSettings {
    /// `reloptions` as `name=value`, the TOAST table's as `toast.name=value`.
    pub reloptions: Vec<String>,
    /// Per column: storage, compression and statistics target.
    pub columns: Vec<ColumnSettings>,
    /// `REPLICA IDENTITY`, when not the default.
    pub replica_identity: Option<ReplicaIdentity>,
}

impl TableSettings {
    /// Whether every setting is the default.
    pub fn is_default(&self) -> bool {
        self.reloptions.is_empty() && self.columns.is_empty() && self.replica_identity.is_none()
    }
}

/// A column's settings that differ from the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ColumnSettings {
    /// Column name.
    pub name: String,
    /// `attstorage` when it differs from the type's: `p` PLAIN, `e` EXTERNAL, `m` MAIN, `x` EXTENDED.
    pub storage: Option<char>,
    /// `attcompression`: `p` pglz, `l` lz4.
    pub compression: Option<char>,
    /// `SET STATISTICS`.
    pub statistics: Option<i32>,
}

/// `REPLICA IDENTITY` other than DEFAULT.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub enum ReplicaIdentity {
    /// `FULL`.
    Full,
    /// `NOTHING`.
    Nothing,
    /// `USING INDEX`, with the index's name.
    Index(String),
}

/// An extended statistics object on a table.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ExtendedStatistics {
    /// Its name (created in the table's target schema).
    pub name: String,
    /// Kinds: `d` ndistinct, `f` dependencies, `m` mcv; empty for a single expression.
    pub kinds: Vec<char>,
    /// Columns and expressions, as written after `ON`.
    pub columns: String,
    /// `ALTER STATISTICS … SET STATISTICS`, when set.
    pub target: Option<i32>,
}

/// A user trigger on a table (`pg_trigger`), in the parts `CREATE TRIGGER` is written
/// from, so that it can be created on the table's target name (see `catalog::triggers`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Trigger {
    /// Trigger name, unique per table.
    pub name: String,
    /// `tgtype`: row or statement, timing and events, as PostgreSQL packs them.
    pub tgtype: i16,
    /// The columns of `UPDATE OF`, in order.
    pub columns: Vec<String>,
    /// `REFERENCING OLD TABLE AS` this name.
    pub old_table: Option<String>,
    /// `REFERENCING NEW TABLE AS` this name.
    pub new_table: Option<String>,
    /// The `WHEN` condition as `pg_get_triggerdef` writes it (`new.x`, `old.x`).
    pub when: Option<String>,
    /// The function it executes.
    pub function: QualifiedName,
    /// The function's arguments (`tgargs`).
    pub args: Vec<String>,
    /// `tgenabled`: `O` enabled, `D` disabled, `R` replica only, `A` always.
    pub enabled: char,
    /// A `CONSTRAINT TRIGGER`: (`DEFERRABLE`, `INITIALLY DEFERRED`).
    pub constraint: Option<(bool, bool)>,
    /// The `FROM` table of a constraint trigger, as the source names it.
    pub from_table: Option<QualifiedName>,
    /// Its `WHEN` condition names the table's row type, by the source name.
    pub names_row_type: bool,
    /// Why it cannot be recreated from these parts, when it cannot.
    pub unrecreatable: Option<String>,
}
