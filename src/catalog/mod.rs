//! The catalog layer: read what a database holds into plain structs.
//!
//! Every query is a `.sql` file next to this module. Introspection runs inside the
//! caller's transaction, so with `apply` it sees the same snapshot the copy reads.
//! Sessions reading the catalog must run with `search_path = pg_catalog` (so every
//! rendered name is schema-qualified) and `TimeZone = UTC` (so chunk ranges read
//! back in TimescaleDB's internal units); `pg::session::setup` does both.

use serde::Serialize;
use tokio_postgres::{GenericClient, Row};

use crate::pg::{QualifiedName, describe_error, quote_ident};

mod around;
mod caggs;
mod chunks;
mod closure;
mod compression;
mod compression_state;
mod jobs;
mod keys;
mod model;
mod triggers;
mod views;

pub use around::{function_definition, functions_named};
use around::{functions, row_security, statistics, table_settings};
pub use caggs::ContinuousAggregate;
pub use closure::{
    ColumnGrant, DefaultPrivilege, PlacedKind, Placement, TextSearchConfig, UserCollation,
    collation_named, default_privileges, tablespaces_present, text_search_named,
};
pub use compression::{
    Compression, JobPolicy, JobPolicyAfter, JobPolicyKind, license_once_created,
};
pub use compression_state::{CompressionState, compression_state};
pub use jobs::{SourceJob, jobs_of};
pub use keys::key_range;
pub use model::*;
pub use triggers::TriggerNames;
pub use views::{View, views_over};

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
        lz4: row.get("lz4"),
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

/// A table's owner and grants, and the default privileges of its schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Grants {
    /// The owning role.
    pub owner: String,
    /// (grantee, privilege, grantable); grantee `None` is PUBLIC.
    pub grants: Vec<(Option<String>, String, bool)>,
    /// Column-level grants.
    #[serde(default)]
    pub columns: Vec<ColumnGrant>,
    /// The default privileges of the table's schema (every role's), and the
    /// database-wide ones of its owner.
    #[serde(default)]
    pub default_privileges: Vec<DefaultPrivilege>,
    /// The grants on the table's schema (USAGE, CREATE) to roles other than its
    /// owner: a schema the move creates gets them, or the grants above reach no one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema_grants: Vec<(Option<String>, String, bool)>,
}

/// Read a table's owner and grants.
pub async fn grants(client: &impl GenericClient, table: &Table) -> Result<Grants> {
    let mut g = grants_of(client, &table.name, table.oid).await?;
    g.default_privileges = default_privileges(
        client,
        Some(&table.name.schema),
        std::slice::from_ref(&g.owner),
    )
    .await?;
    let row = client
        .query_one(include_str!("sql/schema_grants.sql"), &[&table.name.schema])
        .await
        .map_err(query_err(format!("grants on schema {}", table.name.schema)))?;
    g.schema_grants = parse_acl(row.get("grants"));
    Ok(g)
}

/// `grantee|privilege|grantable` items (grantee '' for PUBLIC) as triples.
fn parse_acl(items: Vec<String>) -> Vec<(Option<String>, String, bool)> {
    items
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
        .collect()
}

/// The owner and grants of any relation (a table, a view).
async fn grants_of(client: &impl GenericClient, name: &QualifiedName, oid: u32) -> Result<Grants> {
    let row = client
        .query_one(include_str!("sql/grants.sql"), &[&oid])
        .await
        .map_err(query_err(format!("grants on {name}")))?;
    let grants = parse_acl(row.get("grants"));
    let owner: String = row.get("owner");
    Ok(Grants {
        columns: closure::column_grants(client, name, oid).await?,
        default_privileges: Vec::new(),
        schema_grants: Vec::new(),
        owner,
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

/// Which of these names are taken by a relation or an extended statistics object.
pub async fn names_taken(
    client: &impl GenericClient,
    names: &[QualifiedName],
) -> Result<Vec<QualifiedName>> {
    let schemas: Vec<&str> = names.iter().map(|n| n.schema.as_str()).collect();
    let relations: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
    Ok(client
        .query(include_str!("sql/names_taken.sql"), &[&schemas, &relations])
        .await
        .map_err(query_err("names taken"))?
        .iter()
        .map(|r| QualifiedName::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect())
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
    let triggers = triggers::triggers(client, name, oid).await?;
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
            late_checks: r.get("late_checks"),
            attributes: r.get("attributes"),
        })
        .collect();
    let sequences = client
        .query(include_str!("sql/sequences.sql"), &[&oid])
        .await
        .map_err(query_err(format!("sequences of {name}")))?
        .iter()
        .map(|r| sequence_of(r, first_char(r, "dep").unwrap_or('a'), None))
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
    let mut functions = functions(client, name, oid, hypertable.as_ref()).await?;
    caggs::add_functions(hypertable.as_ref(), &mut functions);
    let default_sequences = client
        .query(include_str!("sql/default_sequences.sql"), &[&oid])
        .await
        .map_err(query_err(format!("sequences the defaults of {name} use")))?
        .iter()
        .map(|r| {
            let owned_by = r.get::<_, Option<String>>("owner_table").map(|t| {
                (
                    QualifiedName::new(r.get::<_, String>("owner_schema"), t),
                    r.get::<_, String>("owner_column"),
                )
            });
            sequence_of(r, 'n', owned_by)
        })
        .collect();
    let (collations, text_search, tablespaces) =
        closure::of_table(client, name, oid, hypertable.is_some()).await?;
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
        row_security: row_security(client, name, oid).await?,
        settings: table_settings(client, name, oid).await?,
        statistics: statistics(client, name, oid).await?,
        functions,
        default_sequences,
        collations,
        text_search,
        tablespaces,
        jobs: jobs::of_table(client, server, name, oid).await?,
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

/// A sequence from a row of `sql/sequences.sql` or `sql/default_sequences.sql`, which
/// share their column names; `dep` and `owned_by` are what differ between the two.
fn sequence_of(r: &Row, dep: char, owned_by: Option<(QualifiedName, String)>) -> OwnedSequence {
    OwnedSequence {
        column: r.get("column_name"),
        name: QualifiedName::new(r.get::<_, String>("schema"), r.get::<_, String>("name")),
        dep,
        data_type: r.get("data_type"),
        start: r.get("start_value"),
        increment: r.get("increment_by"),
        min: r.get("min_value"),
        max: r.get("max_value"),
        cache: r.get("cache_size"),
        cycle: r.get("cycle"),
        owned_by,
        last_value: r.get("last_value"),
    }
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
    let chunks = chunks::hypertable_chunks(client, name).await?;
    let features = client
        .query_one(
            include_str!("sql/features.sql"),
            &[&name.schema, &name.name],
        )
        .await
        .map_err(query_err(format!("TimescaleDB features of {name}")))?;
    let mut unsupported = Vec::new();
    let compression = compression::compression(client, name).await?;
    let policies = compression::policies(client, name).await?;
    for p in policies.iter().filter(|p| !p.other_settings.is_empty()) {
        unsupported.push(format!(
            "its {} policy (job {}) has settings hypermove does not carry ({})",
            match p.kind {
                JobPolicyKind::Compression => "compression",
                JobPolicyKind::Retention => "retention",
            },
            p.job_id,
            p.other_settings.join(", ")
        ));
    }
    // Continuous aggregates move with it (plan::caggs); the jobs on them do not yet.
    let continuous_aggregates = caggs::continuous_aggregates(client, name).await?;
    unsupported.extend(caggs::jobs_not_carried(&continuous_aggregates));
    for job in features.get::<_, Vec<String>>("jobs") {
        unsupported.push(format!("background job {job} runs on it"));
    }
    Ok(Some(Hypertable {
        dimensions,
        chunks,
        unsupported,
        compression,
        policies: policies
            .into_iter()
            .filter(|p| p.other_settings.is_empty())
            .collect(),
        continuous_aggregates,
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
