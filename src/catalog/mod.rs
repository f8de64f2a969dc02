//! The catalog layer: read what a database holds into plain structs.
//!
//! Every query is a `.sql` file next to this module. Introspection runs inside the
//! caller's transaction, so with `apply` it sees the same snapshot the copy reads.
//! Sessions reading the catalog must run with `search_path = pg_catalog` (so every
//! rendered name is schema-qualified) and `TimeZone = UTC` (so chunk ranges read
//! back in TimescaleDB's internal units); [`SESSION_SETUP`] does both.

use serde::Serialize;
use tokio_postgres::{GenericClient, Row};

use crate::pg::{QualifiedName, describe_error, quote_ident};

/// Session settings every hypermove session uses, on both servers: fixed text forms,
/// and reads that see every row (compressed ones included) or fail.
/// It ends with a newline, so it can be followed by `; more statements`.
pub const SESSION_SETUP: &str = include_str!("sql/session_setup.sql");

/// Errors while reading a catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A catalog query failed.
    #[error("reading {what}: {message}")]
    Query {
        /// What was being read.
        what: String,
        /// The server's or driver's message.
        message: String,
    },
    /// The named table is not on the server.
    #[error("table {0} does not exist")]
    NotFound(QualifiedName),
    /// The name exists but is not something hypermove can move.
    #[error("{name} is {what}, not a table")]
    NotATable {
        /// The relation named.
        name: QualifiedName,
        /// What it is instead.
        what: &'static str,
    },
    /// The server renders an index in a way hypermove does not understand.
    #[error("cannot recreate index {index}: unexpected definition `{definition}`")]
    IndexDefinition {
        /// Index name.
        index: String,
        /// What pg_get_indexdef returned.
        definition: String,
    },
}

type Result<T> = std::result::Result<T, CatalogError>;

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
    /// Whether this connection is encrypted (from `pg_stat_ssl`). Not part of
    /// fingerprints: it describes the connection, not the server.
    #[serde(default, skip_serializing)]
    pub tls: bool,
    /// Start time, port and database OID: the same on two connections only when
    /// they reach the same server. Not part of fingerprints (it changes on restart).
    #[serde(default, skip_serializing)]
    pub instance: String,
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
    /// Features that a plain move cannot carry: compression, caggs, jobs.
    pub unsupported: Vec<String>,
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
    /// `a` for serial (OWNED BY), `i` for identity.
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
    /// The last value handed out, `None` if never used (or not readable). Not part of
    /// fingerprints: every insert moves it.
    #[serde(skip)]
    pub last_value: Option<i64>,
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
    /// User triggers (not carried; reported).
    pub triggers: Vec<String>,
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

fn query_err(what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> CatalogError {
    let what = what.into();
    move |e| CatalogError::Query {
        what,
        message: describe_error(&e),
    }
}

/// Read the server's versions and TimescaleDB state.
pub async fn server_info(client: &impl GenericClient) -> Result<ServerInfo> {
    let row = client
        .query_one(include_str!("sql/server.sql"), &[])
        .await
        .map_err(query_err("server version"))?;
    Ok(ServerInfo {
        version: row.get("server_version"),
        version_num: row.get("server_version_num"),
        database: row.get("database"),
        timescaledb: row.get("timescaledb_installed"),
        timescaledb_schema: row.get("timescaledb_schema"),
        timescaledb_available: row.get("timescaledb_available"),
        timescaledb_license: row.get("timescaledb_license"),
        tls: row.get("tls"),
        instance: row.get("instance"),
    })
}

/// Every ordinary table outside system and TimescaleDB schemas, by name.
pub async fn list_tables(client: &impl GenericClient) -> Result<Vec<QualifiedName>> {
    Ok(client
        .query(include_str!("sql/list_tables.sql"), &[])
        .await
        .map_err(query_err("the list of tables"))?
        .iter()
        .map(|r| QualifiedName::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect())
}

/// Whether a function exists, named as SQL would name it.
pub async fn function_exists(client: &impl GenericClient, name: &str) -> Result<bool> {
    // to_regproc fails on an ambiguous (overloaded) name; that counts as present.
    match client
        .query_one(include_str!("sql/function_exists.sql"), &[&name])
        .await
    {
        Ok(row) => Ok(row.get("present")),
        Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "42725") => Ok(true),
        Err(e) => Err(query_err(format!("function {name}"))(e)),
    }
}

/// A plain view over moved tables.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct View {
    /// Its name.
    pub name: QualifiedName,
    /// `pg_get_viewdef`, with schema-qualified names.
    pub definition: String,
    /// OIDs of every relation it reads.
    pub reads: Vec<u32>,
}

/// Plain views that read any of these tables.
pub async fn views_over(client: &impl GenericClient, tables: &[u32]) -> Result<Vec<View>> {
    Ok(client
        .query(include_str!("sql/views.sql"), &[&tables])
        .await
        .map_err(query_err("views"))?
        .iter()
        .map(|r| View {
            name: QualifiedName::new(r.get::<_, String>("schema"), r.get::<_, String>("name")),
            definition: r.get("definition"),
            reads: r.get("reads"),
        })
        .collect())
}

/// A table's owner and table-level grants.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Grants {
    /// The owning role.
    pub owner: String,
    /// (grantee, privilege, grantable); grantee `None` is PUBLIC.
    pub grants: Vec<(Option<String>, String, bool)>,
}

/// Read a table's owner and grants.
pub async fn grants(client: &impl GenericClient, table: &Table) -> Result<Grants> {
    let row = client
        .query_one(include_str!("sql/grants.sql"), &[&table.oid])
        .await
        .map_err(query_err(format!("grants on {}", table.name)))?;
    let grants = row
        .get::<_, Vec<String>>("grants")
        .into_iter()
        .filter_map(|g| {
            let mut parts = g.splitn(3, '|');
            let grantee = parts.next()?.to_string();
            let privilege = parts.next()?.to_string();
            let grantable = parts.next()? == "t";
            Some((
                (!grantee.is_empty()).then_some(grantee),
                privilege,
                grantable,
            ))
        })
        .collect();
    Ok(Grants {
        owner: row.get("owner"),
        grants,
    })
}

/// Which of these roles exist.
pub async fn roles_present(client: &impl GenericClient, roles: &[String]) -> Result<Vec<String>> {
    Ok(client
        .query(include_str!("sql/roles_present.sql"), &[&roles])
        .await
        .map_err(query_err("roles"))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// What the connected role may do on a server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Privileges {
    /// The role connected.
    pub role: String,
    /// Whether it is a superuser.
    pub superuser: bool,
    /// CREATE on the database (new schemas, the journal).
    pub create_in_database: bool,
    /// Tables of those asked about that it may not SELECT.
    pub unreadable_tables: Vec<String>,
    /// Tables of those asked about whose row-level security applies to it.
    #[serde(default)]
    pub rls_filtered_tables: Vec<String>,
    /// Existing schemas of those asked about that it may not create in.
    pub unwritable_schemas: Vec<String>,
}

/// Check the connected role's privileges on these tables and schemas.
pub async fn privileges(
    client: &impl GenericClient,
    tables: &[u32],
    schemas: &[String],
) -> Result<Privileges> {
    let row = client
        .query_one(include_str!("sql/privileges.sql"), &[&tables, &schemas])
        .await
        .map_err(query_err("privileges"))?;
    Ok(Privileges {
        role: row.get("role"),
        superuser: row.get("superuser"),
        create_in_database: row.get("create_in_database"),
        unreadable_tables: row.get("unreadable_tables"),
        rls_filtered_tables: row.get("rls_filtered_tables"),
        unwritable_schemas: row.get("unwritable_schemas"),
    })
}

/// Whether a type exists under this name.
pub async fn type_exists(client: &impl GenericClient, name: &QualifiedName) -> Result<bool> {
    Ok(client
        .query_one(
            include_str!("sql/type_exists.sql"),
            &[&name.schema, &name.name],
        )
        .await
        .map_err(query_err(format!("type {name}")))?
        .get("present"))
}

/// Whether an extension is installed, and whether the server could install it.
pub async fn extension_state(client: &impl GenericClient, name: &str) -> Result<(bool, bool)> {
    let row = client
        .query_one(include_str!("sql/extension_state.sql"), &[&name])
        .await
        .map_err(query_err(format!("extension {name}")))?;
    Ok((row.get("installed"), row.get("available")))
}

/// Whether a schema exists.
pub async fn schema_exists(client: &impl GenericClient, schema: &str) -> Result<bool> {
    let row = client
        .query_one(include_str!("sql/schema_exists.sql"), &[&schema])
        .await
        .map_err(query_err(format!("schema {schema}")))?;
    Ok(row.get("present"))
}

/// Whether a relation of any kind exists under this name.
pub async fn relation_exists(client: &impl GenericClient, name: &QualifiedName) -> Result<bool> {
    Ok(client
        .query_opt(
            include_str!("sql/relation.sql"),
            &[&name.schema, &name.name],
        )
        .await
        .map_err(query_err(format!("relation {name}")))?
        .is_some())
}

fn estimate(reltuples: f64) -> Option<u64> {
    // PostgreSQL 14+ uses -1 for "never vacuumed or analyzed".
    (reltuples >= 0.0).then_some(reltuples as u64)
}

/// Read one table. `server` tells whether TimescaleDB views can be queried.
pub async fn table(
    client: &impl GenericClient,
    server: &ServerInfo,
    name: &QualifiedName,
) -> Result<Table> {
    let rel = client
        .query_opt(
            include_str!("sql/relation.sql"),
            &[&name.schema, &name.name],
        )
        .await
        .map_err(query_err(format!("table {name}")))?
        .ok_or_else(|| CatalogError::NotFound(name.clone()))?;
    let relkind: String = rel.get("relkind");
    let what = match relkind.as_str() {
        "r" => None,
        "p" => Some("a partitioned table"),
        "v" => Some("a view"),
        "m" => Some("a materialized view"),
        "f" => Some("a foreign table"),
        "S" => Some("a sequence"),
        "i" | "I" => Some("an index"),
        _ => Some("an unsupported relation"),
    };
    if let Some(what) = what {
        return Err(CatalogError::NotATable {
            name: name.clone(),
            what,
        });
    }
    if name.schema.starts_with("_timescaledb_") {
        return Err(CatalogError::NotATable {
            name: name.clone(),
            what: "a TimescaleDB internal table (name its hypertable instead)",
        });
    }
    let oid: u32 = rel.get("oid");
    let columns = columns(client, name, oid).await?;
    let constraints = constraints(client, name, oid).await?;
    let indexes = indexes(client, name, oid).await?;
    let triggers = client
        .query(include_str!("sql/triggers.sql"), &[&oid])
        .await
        .map_err(query_err(format!("triggers of {name}")))?
        .iter()
        .map(|r| r.get("name"))
        .collect();
    let types = client
        .query(include_str!("sql/types.sql"), &[&oid])
        .await
        .map_err(query_err(format!("types of {name}")))?
        .iter()
        .map(|r| UserType {
            name: QualifiedName::new(r.get::<_, String>("schema"), r.get::<_, String>("name")),
            kind: first_char(r, "kind").unwrap_or('d'),
            depth: r.get("depth"),
            extension: r.get("extension"),
            labels: r.get("labels"),
            base_type: r.get("base_type"),
            not_null: r.get("not_null"),
            default: r.get("default_expr"),
            checks: r.get("checks"),
            attributes: r.get("attributes"),
        })
        .collect();
    let sequences = client
        .query(include_str!("sql/sequences.sql"), &[&oid])
        .await
        .map_err(query_err(format!("sequences of {name}")))?
        .iter()
        .map(|r| OwnedSequence {
            column: r.get("column_name"),
            name: QualifiedName::new(r.get::<_, String>("schema"), r.get::<_, String>("name")),
            dep: first_char(r, "dep").unwrap_or('a'),
            data_type: r.get("data_type"),
            start: r.get("start_value"),
            increment: r.get("increment_by"),
            min: r.get("min_value"),
            max: r.get("max_value"),
            cache: r.get("cache_size"),
            cycle: r.get("cycle"),
            last_value: r.get("last_value"),
        })
        .collect();
    let comments = client
        .query(include_str!("sql/comments.sql"), &[&oid])
        .await
        .map_err(query_err(format!("comments of {name}")))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let hypertable = if server.timescaledb.is_some() {
        hypertable(client, name).await?
    } else {
        None
    };
    // A hypertable's children are its chunks; only a plain table's are asked for.
    let inheritance_children = if hypertable.is_none() {
        client
            .query(include_str!("sql/inheritance_children.sql"), &[&oid])
            .await
            .map_err(query_err(format!("inheritance children of {name}")))?
            .iter()
            .map(|r| QualifiedName::new(r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Table {
        name: name.clone(),
        oid,
        columns,
        constraints,
        indexes,
        triggers,
        types,
        sequences,
        comments,
        hypertable,
        inheritance_children,
        est_rows: estimate(rel.get("reltuples")),
        est_bytes: rel.get::<_, i64>("est_bytes").max(0) as u64,
    })
}

async fn columns(
    client: &impl GenericClient,
    name: &QualifiedName,
    oid: u32,
) -> Result<Vec<Column>> {
    let rows = client
        .query(include_str!("sql/columns.sql"), &[&oid])
        .await
        .map_err(query_err(format!("columns of {name}")))?;
    Ok(rows
        .iter()
        .map(|r| Column {
            name: r.get("name"),
            type_sql: r.get("type_sql"),
            type_oid: r.get("type_oid"),
            not_null: r.get("not_null"),
            default: r.get("default_expr"),
            generated: r.get("generated_expr"),
            generated_kind: first_char(r, "generated_kind"),
            identity: first_char(r, "identity"),
            collation: r.get("collation_sql"),
            binary_ok: r.get("binary_ok"),
        })
        .collect())
}

fn first_char(row: &Row, col: &str) -> Option<char> {
    row.get::<_, Option<String>>(col)
        .and_then(|s| s.chars().next())
}

async fn constraints(
    client: &impl GenericClient,
    name: &QualifiedName,
    oid: u32,
) -> Result<Vec<Constraint>> {
    let rows = client
        .query(include_str!("sql/constraints.sql"), &[&oid])
        .await
        .map_err(query_err(format!("constraints of {name}")))?;
    Ok(rows
        .iter()
        .map(|r| {
            let kind = match first_char(r, "kind") {
                Some('p') => ConstraintKind::PrimaryKey,
                Some('u') => ConstraintKind::Unique,
                Some('c') => ConstraintKind::Check,
                Some('x') => ConstraintKind::Exclusion,
                _ => ConstraintKind::ForeignKey(ForeignKey {
                    ref_table: QualifiedName::new(
                        r.get::<_, String>("ref_schema"),
                        r.get::<_, String>("ref_table"),
                    ),
                    ref_columns: r.get("ref_columns"),
                    on_update: first_char(r, "on_update").unwrap_or('a'),
                    on_delete: first_char(r, "on_delete").unwrap_or('a'),
                    match_type: first_char(r, "match_type").unwrap_or('s'),
                    deferrable: r.get("deferrable"),
                    deferred: r.get("deferred"),
                }),
            };
            Constraint {
                name: r.get("name"),
                kind,
                columns: r.get("columns"),
                definition: r.get("definition"),
            }
        })
        .collect())
}

async fn indexes(
    client: &impl GenericClient,
    name: &QualifiedName,
    oid: u32,
) -> Result<Vec<Index>> {
    let rows = client
        .query(include_str!("sql/indexes.sql"), &[&oid])
        .await
        .map_err(query_err(format!("indexes of {name}")))?;
    rows.iter()
        .map(|r| {
            let index: String = r.get("name");
            if !r.get::<_, bool>("prefix_ok") {
                return Err(CatalogError::IndexDefinition {
                    index,
                    definition: r.get("def"),
                });
            }
            Ok(Index {
                name: index,
                unique: r.get("is_unique"),
                method: r.get("method"),
                body: r.get("body"),
                key_columns: r.get("key_columns"),
            })
        })
        .collect()
}

async fn hypertable(
    client: &impl GenericClient,
    name: &QualifiedName,
) -> Result<Option<Hypertable>> {
    let dims = client
        .query(
            include_str!("sql/dimensions.sql"),
            &[&name.schema, &name.name],
        )
        .await
        .map_err(query_err(format!("dimensions of {name}")))?;
    if dims.is_empty() {
        return Ok(None);
    }
    let dimensions = dims
        .iter()
        .map(|r| {
            let kind: String = r.get("kind");
            let kind = if kind == "Space" {
                DimensionKind::Hash {
                    partitions: r.get::<_, Option<i16>>("num_partitions").unwrap_or(1),
                }
            } else {
                let integer: Option<i64> = r.get("integer_interval");
                DimensionKind::Range {
                    width: integer
                        .or(r.get::<_, Option<i64>>("time_interval_micros"))
                        .unwrap_or(0),
                    integer: integer.is_some(),
                    integer_now_func: r.get("integer_now_func"),
                }
            };
            Dimension {
                column: r.get("column_name"),
                kind,
                partitioning_func: r.get("partitioning_func"),
            }
        })
        .collect();
    let chunks = client
        .query(include_str!("sql/chunks.sql"), &[&name.schema, &name.name])
        .await
        .map_err(query_err(format!("chunks of {name}")))?
        .iter()
        .map(|r| Chunk {
            name: QualifiedName::new(
                r.get::<_, String>("chunk_schema"),
                r.get::<_, String>("chunk_name"),
            ),
            range_start: r
                .get::<_, Option<i64>>("range_start")
                .filter(|v| *v != i64::MIN),
            range_end: r
                .get::<_, Option<i64>>("range_end")
                .filter(|v| *v != i64::MAX),
            est_rows: estimate(r.get("reltuples")),
            est_bytes: r.get::<_, i64>("est_bytes").max(0) as u64,
            compressed: r.get::<_, Option<bool>>("is_compressed").unwrap_or(false),
        })
        .collect();
    let features = client
        .query_one(
            include_str!("sql/features.sql"),
            &[&name.schema, &name.name],
        )
        .await
        .map_err(query_err(format!("TimescaleDB features of {name}")))?;
    let mut unsupported = Vec::new();
    if features.get::<_, bool>("compression") {
        unsupported.push("compression is enabled".to_string());
    }
    for cagg in features.get::<_, Vec<String>>("continuous_aggregates") {
        unsupported.push(format!("continuous aggregate {cagg} depends on it"));
    }
    for job in features.get::<_, Vec<String>>("jobs") {
        unsupported.push(format!("background job {job} runs on it"));
    }
    Ok(Some(Hypertable {
        dimensions,
        chunks,
        unsupported,
    }))
}

/// The range of a time column's values, in internal units (Unix-epoch
/// microseconds for time types), and how many rows have no time at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TimeBounds {
    /// Smallest and largest value; `None` when no row has a value.
    pub range: Option<(i64, i64)>,
    /// Rows whose time is NULL: they cannot enter a hypertable.
    pub nulls: i64,
}

/// Read the range of a time column and count its NULLs, in one scan.
pub async fn time_bounds(
    client: &impl GenericClient,
    table: &QualifiedName,
    column: &str,
    time_type: TimeType,
) -> Result<TimeBounds> {
    let col = quote_ident(column);
    let to_internal = |agg: &str| match time_type {
        TimeType::Integer => format!("{agg}({col})::int8"),
        _ => format!("(extract(epoch FROM {agg}({col})) * 1000000)::int8"),
    };
    let sql = format!(
        "SELECT {}, {}, count(*) FILTER (WHERE {col} IS NULL) FROM ONLY {}",
        to_internal("min"),
        to_internal("max"),
        table.sql()
    );
    let row = client
        .query_one(&sql, &[])
        .await
        .map_err(query_err(format!("time range of {table}")))?;
    let min: Option<i64> = row.get(0);
    let max: Option<i64> = row.get(1);
    Ok(TimeBounds {
        range: min.zip(max),
        nulls: row.get(2),
    })
}
