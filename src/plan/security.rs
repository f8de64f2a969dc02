//! Row-level security carried to the target: `ENABLE`/`FORCE ROW LEVEL SECURITY` and
//! every policy, in one step per table that runs after everything else of the table
//! (its copies and their checks above all). Until then the target table has no
//! policies, so hypermove's own loading and checking read and write every row; the
//! loading role owns the table it created, and stays its owner.

use std::collections::BTreeSet;

use crate::catalog::{Policy, RowSecurity, Table};
use crate::pg::{QualifiedName, quote_ident};

/// Every role the tables' policies name (PUBLIC is no role).
pub(super) fn policy_roles(tables: &[Table]) -> BTreeSet<String> {
    tables
        .iter()
        .filter_map(|t| t.row_security.as_ref())
        .flat_map(|rs| &rs.policies)
        .flat_map(|p| p.roles.iter().flatten().cloned())
        .collect()
}

/// A policy whose expressions read other tables names them as they are on the
/// source; it is refused, naming the policies and the tables they read.
pub(super) fn check_policies(table: &Table) -> Result<(), String> {
    let Some(rs) = &table.row_security else {
        return Ok(());
    };
    let refused: Vec<String> = rs
        .policies
        .iter()
        .filter(|p| !p.other_tables.is_empty())
        .map(|p| {
            format!(
                "policy {} reads {}",
                quote_ident(&p.name),
                p.other_tables.join(", ")
            )
        })
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(format!(
        "row-level security policies that read other tables cannot be carried over: {}; drop or rewrite them on the source first",
        refused.join("; ")
    ))
}

/// The statements of the table's row-level security step, on its target name.
pub(super) fn row_security_sql(target: &QualifiedName, rs: &RowSecurity) -> Vec<String> {
    let table = target.sql();
    let mut sql = Vec::new();
    if rs.enabled {
        sql.push(format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"));
    }
    if rs.forced {
        sql.push(format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"));
    }
    sql.extend(rs.policies.iter().map(|p| policy_sql(&table, p)));
    sql
}

/// `CREATE POLICY` with every clause spelled out, so the target's equals the source's.
fn policy_sql(table: &str, p: &Policy) -> String {
    let command = match p.command {
        'r' => "SELECT",
        'a' => "INSERT",
        'w' => "UPDATE",
        'd' => "DELETE",
        _ => "ALL",
    };
    let roles: Vec<String> = p
        .roles
        .iter()
        .map(|r| {
            r.as_deref()
                .map_or_else(|| "PUBLIC".to_string(), quote_ident)
        })
        .collect();
    let mut sql = format!(
        "CREATE POLICY {} ON {table} AS {} FOR {command} TO {}",
        quote_ident(&p.name),
        if p.permissive {
            "PERMISSIVE"
        } else {
            "RESTRICTIVE"
        },
        if roles.is_empty() {
            "PUBLIC".to_string()
        } else {
            roles.join(", ")
        }
    );
    // pg_get_expr does not always parenthesize; the clauses need the parentheses.
    if let Some(e) = &p.using {
        sql.push_str(&format!(" USING ({e})"));
    }
    if let Some(e) = &p.with_check {
        sql.push_str(&format!(" WITH CHECK ({e})"));
    }
    sql
}
