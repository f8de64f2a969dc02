//! What travels with a table besides its rows and keys: the user functions it needs,
//! its row-level security, storage settings and extended statistics.

use tokio_postgres::GenericClient;

use super::model::*;
use super::{Result, first_char, query_err};
use crate::pg::QualifiedName;

/// A table's row-level security, `None` when it is off and there are no policies.
pub(super) async fn row_security(
    client: &impl GenericClient,
    name: &QualifiedName,
    oid: u32,
) -> Result<Option<RowSecurity>> {
    let what = || format!("row-level security of {name}");
    let flags = client
        .query_one(include_str!("sql/row_security.sql"), &[&oid])
        .await
        .map_err(query_err(what()))?;
    let policies: Vec<Policy> = client
        .query(include_str!("sql/policies.sql"), &[&oid])
        .await
        .map_err(query_err(what()))?
        .iter()
        .map(|r| Policy {
            name: r.get("name"),
            permissive: r.get("permissive"),
            command: first_char(r, "command").unwrap_or('*'),
            roles: r
                .get::<_, Vec<String>>("roles")
                .into_iter()
                .map(|role| (!role.is_empty()).then_some(role))
                .collect(),
            using: r.get("using_expr"),
            with_check: r.get("check_expr"),
            other_tables: r.get("other_tables"),
        })
        .collect();
    let (enabled, forced): (bool, bool) = (flags.get("enabled"), flags.get("forced"));
    Ok(
        (enabled || forced || !policies.is_empty()).then_some(RowSecurity {
            enabled,
            forced,
            policies,
        }),
    )
}

/// A table's storage settings, `None` when all are the defaults.
pub(super) async fn table_settings(
    client: &impl GenericClient,
    name: &QualifiedName,
    oid: u32,
) -> Result<Option<TableSettings>> {
    let what = || format!("storage settings of {name}");
    let row = client
        .query_one(include_str!("sql/table_settings.sql"), &[&oid])
        .await
        .map_err(query_err(what()))?;
    let mut reloptions: Vec<String> = row.get("reloptions");
    reloptions.extend(
        row.get::<_, Vec<String>>("toast_reloptions")
            .into_iter()
            .map(|o| format!("toast.{o}")),
    );
    // TimescaleDB keeps its settings in its own catalog; should a version ever store
    // one as a reloption, it is TimescaleDB's to set, not hypermove's.
    reloptions.retain(|o| !o.starts_with("timescaledb."));
    let replica_identity = match row.get::<_, String>("replica_identity").as_str() {
        "f" => Some(ReplicaIdentity::Full),
        "n" => Some(ReplicaIdentity::Nothing),
        "i" => row
            .get::<_, Option<String>>("replica_index")
            .map(ReplicaIdentity::Index),
        _ => None,
    };
    let columns = client
        .query(include_str!("sql/column_settings.sql"), &[&oid])
        .await
        .map_err(query_err(what()))?
        .iter()
        .map(|r| ColumnSettings {
            name: r.get("name"),
            storage: first_char(r, "storage"),
            compression: first_char(r, "compression"),
            statistics: r.get("statistics"),
        })
        .collect();
    let settings = TableSettings {
        reloptions,
        columns,
        replica_identity,
    };
    Ok((!settings.is_default()).then_some(settings))
}

/// A table's extended statistics objects.
pub(super) async fn statistics(
    client: &impl GenericClient,
    name: &QualifiedName,
    oid: u32,
) -> Result<Vec<ExtendedStatistics>> {
    Ok(client
        .query(include_str!("sql/statistics.sql"), &[&oid])
        .await
        .map_err(query_err(format!("extended statistics of {name}")))?
        .iter()
        .map(|r| ExtendedStatistics {
            name: r.get("name"),
            kinds: r
                .get::<_, Vec<String>>("kinds")
                .iter()
                .filter_map(|k| k.chars().next())
                .collect(),
            columns: r.get("columns"),
            target: r.get("target"),
        })
        .collect())
}

/// The user functions a table needs (see `sql/functions.sql`), callees first.
pub(super) async fn functions(
    client: &impl GenericClient,
    name: &QualifiedName,
    oid: u32,
    hypertable: Option<&Hypertable>,
) -> Result<Vec<UserFunction>> {
    // The hypertable's functions are in TimescaleDB's catalog, not in pg_depend.
    let mut named: Vec<String> = Vec::new();
    for d in hypertable.iter().flat_map(|h| &h.dimensions) {
        named.extend(d.partitioning_func.clone());
        if let DimensionKind::Range {
            integer_now_func: Some(f),
            ..
        } = &d.kind
        {
            named.push(f.clone());
        }
    }
    functions_query(client, oid, &named, &format!("functions of {name}")).await
}

/// The user functions of these names (as a spec writes them: `schema.name`, or a
/// bare name in the search path), and those they call, callees first.
pub async fn functions_named(
    client: &impl GenericClient,
    names: &[String],
) -> Result<Vec<UserFunction>> {
    functions_query(client, 0, names, "functions the spec names").await
}

/// `sql/functions.sql` for a table or view (`oid`, 0 for none) and named functions.
pub(super) async fn functions_query(
    client: &impl GenericClient,
    oid: u32,
    named: &[String],
    what: &str,
) -> Result<Vec<UserFunction>> {
    Ok(client
        .query(include_str!("sql/functions.sql"), &[&oid, &named])
        .await
        .map_err(query_err(what.to_string()))?
        .iter()
        .map(|r| UserFunction {
            name: QualifiedName::new(r.get::<_, String>("schema"), r.get::<_, String>("name")),
            args: r.get("args"),
            language: r.get("language"),
            // The definition ends in a newline; the step's SQL does not need it.
            definition: r.get::<_, String>("definition").trim_end().to_string(),
            depth: r.get("depth"),
        })
        .collect())
}

/// A function's definition on this server (`pg_get_functiondef`), when a function
/// of this signature (`schema.name(args)`, quoted) exists.
pub async fn function_definition(
    client: &impl GenericClient,
    signature: &str,
) -> Result<Option<String>> {
    Ok(client
        .query_opt(include_str!("sql/function_definition.sql"), &[&signature])
        .await
        .map_err(query_err(format!("function {signature}")))?
        .map(|r| r.get::<_, String>("definition").trim_end().to_string()))
}
