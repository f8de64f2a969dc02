//! The views around moved tables: every plain and materialized view that reads them,
//! directly or through other views (see `sql/views.sql`), with what the plan needs to
//! recreate each one or to say why it cannot.

use serde::Serialize;
use tokio_postgres::GenericClient;

use super::around::functions_query;
use super::model::*;
use super::{Grants, Result, grants_of, indexes, query_err};
use crate::pg::QualifiedName;

/// A plain or materialized view over moved tables (or over views over them).
/// Fields after `reads` were added later: a backup's manifest may lack them.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct View {
    /// Its name on the source.
    pub name: QualifiedName,
    /// `pg_get_viewdef`, with schema-qualified names.
    pub definition: String,
    /// OIDs of every relation it reads (neither the server's catalogs nor an
    /// extension's): moved tables, other views, or what is not moved.
    pub reads: Vec<u32>,
    /// Its OID on the source: views over it name it in their `reads`.
    #[serde(default)]
    pub oid: u32,
    /// `CREATE MATERIALIZED VIEW` rather than `CREATE VIEW`.
    #[serde(default)]
    pub materialized: bool,
    /// A materialized view that holds rows on the source (it is refreshed on the target).
    #[serde(default)]
    pub populated: bool,
    /// What each of `reads` is, in the same order: `table app.t`, `view app.v`,
    /// `continuous aggregate cagg.x`.
    #[serde(default)]
    pub read_labels: Vec<String>,
    /// Its reloptions: `security_barrier`, `check_option`, `security_invoker` for a
    /// view, storage parameters for a materialized view.
    #[serde(default)]
    pub options: Vec<String>,
    /// The user functions its query calls, and those they call.
    #[serde(default)]
    pub functions: Vec<UserFunction>,
    /// The user types its columns and query use.
    #[serde(default)]
    pub types: Vec<QualifiedName>,
    /// The extensions whose members it uses.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// A materialized view's indexes.
    #[serde(default)]
    pub indexes: Vec<Index>,
    /// Comments on the view (column `None`) and on its columns.
    #[serde(default)]
    pub comments: Vec<(Option<String>, String)>,
    /// Its owner and grants, when the spec says `grants: true`.
    #[serde(default)]
    pub grants: Option<Grants>,
}

impl View {
    /// `view app.v` or `materialized view app.m`, for the plan's words.
    pub fn label(&self) -> String {
        let kind = if self.materialized {
            "materialized view"
        } else {
            "view"
        };
        format!("{kind} {}", self.name)
    }
}

/// Every view over these tables (by OID), directly or through other views, in name
/// order; `grants` reads their owners and grants too. TimescaleDB's continuous
/// aggregates are left out (they go with their hypertable's features), but the views
/// over those on these tables are in: they cannot move, and are named.
pub async fn views_over(
    client: &impl GenericClient,
    server: &ServerInfo,
    tables: &[u32],
    grants: bool,
) -> Result<Vec<View>> {
    let (caggs, over): (Vec<u32>, Vec<u32>) = if server.timescaledb.is_some() {
        let row = client
            .query_one(
                include_str!("sql/continuous_aggregate_views.sql"),
                &[&tables],
            )
            .await
            .map_err(query_err("continuous aggregates"))?;
        (row.get("oids"), row.get("over"))
    } else {
        (Vec::new(), Vec::new())
    };
    let rows = client
        .query(include_str!("sql/views.sql"), &[&tables, &caggs, &over])
        .await
        .map_err(query_err("views"))?;
    let mut views = Vec::with_capacity(rows.len());
    for r in &rows {
        let name = QualifiedName::new(r.get::<_, String>("schema"), r.get::<_, String>("name"));
        let oid: u32 = r.get("oid");
        let materialized: bool = r.get("materialized");
        let types = r
            .get::<_, Vec<String>>("type_schemas")
            .into_iter()
            .zip(r.get::<_, Vec<String>>("type_names"))
            .map(|(schema, name)| QualifiedName::new(schema, name))
            .collect();
        let functions = functions_query(client, oid, &[], &format!("functions of {name}")).await?;
        let indexes = if materialized {
            indexes(client, &name, oid).await?
        } else {
            Vec::new()
        };
        let comments = client
            .query(include_str!("sql/comments.sql"), &[&oid])
            .await
            .map_err(query_err(format!("comments of {name}")))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let grants = if grants {
            Some(grants_of(client, &name, oid).await?)
        } else {
            None
        };
        views.push(View {
            definition: r.get("definition"),
            reads: r.get("reads"),
            oid,
            materialized,
            populated: r.get("populated"),
            read_labels: r.get("read_labels"),
            options: r.get("options"),
            functions,
            types,
            extensions: r.get("extensions"),
            indexes,
            comments,
            grants,
            name,
        });
    }
    Ok(views)
}
