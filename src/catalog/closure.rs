//! The named objects around a table that live outside it: the collations and text
//! search configurations it uses, the tablespaces it and its indexes are stored in,
//! its column-level grants and the default privileges of its schema.

use serde::Serialize;
use tokio_postgres::GenericClient;

use super::{Result, first_char, query_err};
use crate::pg::QualifiedName;

/// A collation outside pg_catalog that a table's columns, indexes or constraints use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct UserCollation {
    /// Its name: the table's definitions name it so.
    pub name: QualifiedName,
    /// `collprovider`: `c` libc, `i` ICU, `b` builtin.
    pub provider: char,
    /// The ICU or builtin locale (`colllocale`).
    pub locale: Option<String>,
    /// libc's `LC_COLLATE`.
    pub lc_collate: Option<String>,
    /// libc's `LC_CTYPE`.
    pub lc_ctype: Option<String>,
    /// `deterministic`: false compares strings equal that differ in bytes.
    pub deterministic: bool,
    /// ICU tailoring rules.
    pub rules: Option<String>,
}

/// A text search configuration outside pg_catalog that a table uses (a
/// `'cfg'::regconfig` in a generated column, a default or an index expression).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TextSearchConfig {
    /// Its name: the table's definitions name it so.
    pub name: QualifiedName,
    /// Its parser (`pg_catalog.default`).
    pub parser: QualifiedName,
    /// Per token type (by alias, in the parser's order): its dictionaries, in order.
    pub mappings: Vec<(String, Vec<QualifiedName>)>,
}

impl TextSearchConfig {
    /// The dictionaries it maps to that are not PostgreSQL's own (outside
    /// pg_catalog): they need files or C functions the catalog does not hold.
    pub fn custom_dictionaries(&self) -> Vec<&QualifiedName> {
        let mut out: Vec<&QualifiedName> = self
            .mappings
            .iter()
            .flat_map(|(_, d)| d)
            .filter(|d| d.schema != "pg_catalog")
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// What a tablespace placement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacedKind {
    /// The table itself.
    Table,
    /// An index that backs no constraint.
    Index,
    /// The index of a primary key, unique or exclusion constraint.
    Constraint,
    /// A tablespace attached to a hypertable (`attach_tablespace`) for its chunks.
    Attached,
}

impl PlacedKind {
    /// The word messages use.
    pub fn label(self) -> &'static str {
        match self {
            PlacedKind::Table => "table",
            PlacedKind::Index => "index",
            PlacedKind::Constraint => "constraint",
            PlacedKind::Attached => "hypertable",
        }
    }
}

/// A table, index or constraint stored in a named tablespace on the source, or a
/// tablespace attached to a hypertable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Placement {
    /// What is placed.
    pub kind: PlacedKind,
    /// Its name: the table's, the index's or the constraint's.
    pub name: String,
    /// The source tablespace.
    pub tablespace: String,
}

/// A column-level grant (`GRANT SELECT (col) ON …`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct ColumnGrant {
    /// The column.
    pub column: String,
    /// The grantee; `None` is PUBLIC.
    pub grantee: Option<String>,
    /// `SELECT`, `INSERT`, `UPDATE` or `REFERENCES`.
    pub privilege: String,
    /// `WITH GRANT OPTION`.
    pub grantable: bool,
}

/// One privilege of a default-privileges entry (`ALTER DEFAULT PRIVILEGES`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct DefaultPrivilege {
    /// The role whose new objects it applies to (`FOR ROLE`).
    pub role: String,
    /// The schema (`IN SCHEMA`); `None` for a database-wide entry.
    pub schema: Option<String>,
    /// `defaclobjtype`: `r` tables, `S` sequences, `f` functions, `T` types,
    /// `n` schemas, `L` large objects.
    pub objtype: char,
    /// The grantee; `None` is PUBLIC.
    pub grantee: Option<String>,
    /// The privilege (`SELECT`, `EXECUTE`, …).
    pub privilege: String,
    /// `WITH GRANT OPTION`.
    pub grantable: bool,
    /// A database-wide entry that takes a built-in default away (`REVOKE`).
    pub revoked: bool,
}

fn role(name: String) -> Option<String> {
    (!name.is_empty()).then_some(name)
}

/// What a table uses or is placed in: its collations, text search configurations
/// and tablespaces.
pub(super) async fn of_table(
    client: &impl GenericClient,
    name: &QualifiedName,
    oid: u32,
    hypertable: bool,
) -> Result<(Vec<UserCollation>, Vec<TextSearchConfig>, Vec<Placement>)> {
    Ok((
        collations(client, oid, None, &format!("collations of {name}")).await?,
        text_search(
            client,
            oid,
            None,
            &format!("text search configurations of {name}"),
        )
        .await?,
        placements(client, name, oid, hypertable).await?,
    ))
}

/// The collations a table uses (`oid`), or the one named `name` (`oid` 0).
pub(super) async fn collations(
    client: &impl GenericClient,
    oid: u32,
    name: Option<&QualifiedName>,
    what: &str,
) -> Result<Vec<UserCollation>> {
    let (schema, coll) = (name.map(|n| &n.schema), name.map(|n| &n.name));
    Ok(client
        .query(include_str!("sql/collations.sql"), &[&oid, &schema, &coll])
        .await
        .map_err(query_err(what.to_string()))?
        .iter()
        .map(|r| UserCollation {
            name: QualifiedName::new(r.get::<_, String>("schema"), r.get::<_, String>("name")),
            provider: first_char(r, "provider").unwrap_or('c'),
            locale: r.get("locale"),
            lc_collate: r.get("lc_collate"),
            lc_ctype: r.get("lc_ctype"),
            deterministic: r.get("deterministic"),
            rules: r.get("rules"),
        })
        .collect())
}

/// The text search configurations a table uses (`oid`), or the one named `name`
/// (`oid` 0).
pub(super) async fn text_search(
    client: &impl GenericClient,
    oid: u32,
    name: Option<&QualifiedName>,
    what: &str,
) -> Result<Vec<TextSearchConfig>> {
    let (schema, cfg) = (name.map(|n| &n.schema), name.map(|n| &n.name));
    let rows = client
        .query(include_str!("sql/text_search.sql"), &[&oid, &schema, &cfg])
        .await
        .map_err(query_err(what.to_string()))?;
    let mut out: Vec<TextSearchConfig> = Vec::new();
    for r in &rows {
        let name = QualifiedName::new(r.get::<_, String>("schema"), r.get::<_, String>("name"));
        if out.last().is_none_or(|c| c.name != name) {
            out.push(TextSearchConfig {
                name,
                parser: QualifiedName::new(
                    r.get::<_, String>("parser_schema"),
                    r.get::<_, String>("parser_name"),
                ),
                mappings: Vec::new(),
            });
        }
        if let Some(token) = r.get::<_, Option<String>>("token") {
            let schemas: Vec<String> = r.get("dictionary_schemas");
            let names: Vec<String> = r.get("dictionary_names");
            let dictionaries = schemas
                .into_iter()
                .zip(names)
                .map(|(s, n)| QualifiedName::new(s, n))
                .collect();
            let config = out.last_mut().expect("pushed above");
            config.mappings.push((token, dictionaries));
        }
    }
    Ok(out)
}

/// A collation by name on any server (the target's, to compare).
pub async fn collation_named(
    client: &impl GenericClient,
    name: &QualifiedName,
) -> Result<Option<UserCollation>> {
    Ok(
        collations(client, 0, Some(name), &format!("collation {name}"))
            .await?
            .into_iter()
            .next(),
    )
}

/// A text search configuration by name on any server (the target's, to compare).
pub async fn text_search_named(
    client: &impl GenericClient,
    name: &QualifiedName,
) -> Result<Option<TextSearchConfig>> {
    Ok(text_search(
        client,
        0,
        Some(name),
        &format!("text search configuration {name}"),
    )
    .await?
    .into_iter()
    .next())
}

/// Where a table and its indexes are stored, when not in the default tablespace,
/// and for a hypertable the tablespaces attached to it.
pub(super) async fn placements(
    client: &impl GenericClient,
    name: &QualifiedName,
    oid: u32,
    hypertable: bool,
) -> Result<Vec<Placement>> {
    let what = || format!("tablespaces of {name}");
    let mut out: Vec<Placement> = client
        .query(include_str!("sql/tablespaces.sql"), &[&oid])
        .await
        .map_err(query_err(what()))?
        .iter()
        .map(|r| Placement {
            kind: match r.get::<_, &str>("kind") {
                "table" => PlacedKind::Table,
                "constraint" => PlacedKind::Constraint,
                _ => PlacedKind::Index,
            },
            name: r.get("name"),
            tablespace: r.get("tablespace"),
        })
        .collect();
    if hypertable {
        out.extend(
            client
                .query(
                    include_str!("sql/attached_tablespaces.sql"),
                    &[&name.schema, &name.name],
                )
                .await
                .map_err(query_err(what()))?
                .iter()
                .map(|r| Placement {
                    kind: PlacedKind::Attached,
                    name: name.name.clone(),
                    tablespace: r.get("tablespace"),
                }),
        );
    }
    Ok(out)
}

/// Which of these tablespaces exist, each with whether the connected role may create
/// in it.
pub async fn tablespaces_present(
    client: &impl GenericClient,
    names: &[String],
) -> Result<Vec<(String, bool)>> {
    Ok(client
        .query(include_str!("sql/target_tablespaces.sql"), &[&names])
        .await
        .map_err(query_err("tablespaces"))?
        .iter()
        .map(|r| (r.get("name"), r.get("may_create")))
        .collect())
}

/// A table's column-level grants.
pub(super) async fn column_grants(
    client: &impl GenericClient,
    name: &QualifiedName,
    oid: u32,
) -> Result<Vec<ColumnGrant>> {
    Ok(client
        .query(include_str!("sql/column_grants.sql"), &[&oid])
        .await
        .map_err(query_err(format!("column grants on {name}")))?
        .iter()
        .map(|r| ColumnGrant {
            column: r.get("column_name"),
            grantee: role(r.get("grantee")),
            privilege: r.get("privilege"),
            grantable: r.get("grantable"),
        })
        .collect())
}

/// The default privileges of `schema` (every role's), and the database-wide ones of
/// `roles`. With no schema, the database-wide ones only.
pub async fn default_privileges(
    client: &impl GenericClient,
    schema: Option<&str>,
    roles: &[String],
) -> Result<Vec<DefaultPrivilege>> {
    Ok(client
        .query(
            include_str!("sql/default_privileges.sql"),
            &[&schema, &roles],
        )
        .await
        .map_err(query_err("default privileges"))?
        .iter()
        .map(|r| DefaultPrivilege {
            role: r.get("role"),
            schema: r.get("schema"),
            objtype: first_char(r, "objtype").unwrap_or('r'),
            grantee: role(r.get("grantee")),
            privilege: r.get("privilege"),
            grantable: r.get("grantable"),
            revoked: r.get("revoked"),
        })
        .collect())
}
