//! Tablespaces: a table, index or constraint stored in a named tablespace on the
//! source is created in `tablespace_map[name]` when the spec maps it, else in the
//! tablespace of the same name, which the target must have: one it lacks is refused
//! by kind, name and tablespace (`on_unsupported: warn` lists it and uses the
//! target's default). What is in the source's default tablespace stays in the
//! target's. Tablespaces attached to a source hypertable are attached to the target
//! one, by the same rule. Pure.
//!
//! The table gets `TABLESPACE` in its `CREATE TABLE`; an index or constraint is
//! created with `default_tablespace` set around it, as pg_dump does, since the
//! server's rendering of an index puts no tablespace in it (and its `WHERE` must stay
//! last). TimescaleDB creates a hypertable's chunks, and their indexes, in the
//! hypertable's tablespace (or spreads them over the attached ones).

use super::Inputs;
use super::closure::Findings;
use crate::catalog::{PlacedKind, Placement, Table};
use crate::pg::{QualifiedName, quote_ident, quote_literal};
use crate::spec::{OnUnsupported, Spec, TableSpec};

/// Where a placement goes: the tablespace the spec maps it to, or its own name.
fn wanted<'a>(t: &'a TableSpec, p: &'a Placement) -> &'a str {
    t.tablespace_map
        .get(&p.tablespace)
        .map_or(p.tablespace.as_str(), String::as_str)
}

/// The target tablespace of a placement, `None` (the target's default) when the
/// target lacks it (`check` refused it, or warned).
pub(super) fn target_of<'a>(
    inputs: &Inputs,
    t: &'a TableSpec,
    p: &'a Placement,
) -> Option<&'a str> {
    let name = wanted(t, p);
    inputs.target_objects.tablespace(name).map(|_| name)
}

/// What a placement is, in messages: `table app.t`, `index app.t_idx of app.t`.
fn describe(t: &TableSpec, p: &Placement) -> String {
    match p.kind {
        PlacedKind::Table => format!("table {}", t.source),
        PlacedKind::Index | PlacedKind::Constraint => format!(
            "{} {} of {}",
            p.kind.label(),
            QualifiedName::new(t.source.schema.clone(), p.name.clone()),
            t.source
        ),
        PlacedKind::Attached => format!("hypertable {} (attached)", t.source),
    }
}

/// The table's placements that need a decision: all but the attachment of the
/// table's own tablespace, which `create_hypertable` makes by itself (on the target,
/// of the table's target tablespace).
pub(super) fn placements(table: &Table) -> impl Iterator<Item = &Placement> {
    let own = table
        .tablespaces
        .iter()
        .find(|p| p.kind == PlacedKind::Table)
        .map(|p| &p.tablespace);
    table
        .tablespaces
        .iter()
        .filter(move |p| !(p.kind == PlacedKind::Attached && Some(&p.tablespace) == own))
}

/// Refuse, naming them, the placements whose tablespace the target lacks (or list
/// them, with `on_unsupported: warn`), and those whose tablespace the target role
/// may not create in.
pub(super) fn check(spec: &Spec, inputs: &Inputs, out: &mut Findings) {
    for (t, table) in inputs.selection.iter().zip(&inputs.tables) {
        for p in placements(table) {
            let name = wanted(t, p);
            let mapped = if name == p.tablespace {
                String::new()
            } else {
                format!(" (tablespace_map sends it to {})", quote_ident(name))
            };
            let what = describe(t, p);
            let ts = quote_ident(&p.tablespace);
            match inputs.target_objects.tablespace(name) {
                Some(true) => {}
                Some(false) => out.refused.push(format!(
                    "{what} is in tablespace {ts} on the source{mapped}, and the target role {} may not create in {} (GRANT CREATE ON TABLESPACE {} TO it)",
                    inputs.target_privileges.role,
                    quote_ident(name),
                    quote_ident(name)
                )),
                None if spec.on_unsupported == OnUnsupported::Warn => out.warnings.push(format!(
                    "{what} is in tablespace {ts} on the source{mapped}, which the target does not have; {} (on_unsupported: warn)",
                    if p.kind == PlacedKind::Attached {
                        "it is not attached on the target"
                    } else {
                        "it is created in the target's default tablespace"
                    }
                )),
                None => out.refused.push(format!(
                    "{what} is in tablespace {ts} on the source{mapped}, which the target does not have; create it there, map it with `tablespace_map: {{{}: …}}`, or `on_unsupported: warn` to use the target's default",
                    p.tablespace
                )),
            }
        }
    }
}

/// The table's statements with `TABLESPACE` on its `CREATE TABLE`.
pub(super) fn place_table(sql: &mut [String], tablespace: &str) {
    for s in sql.iter_mut().filter(|s| s.starts_with("CREATE TABLE ")) {
        s.push_str(&format!(" TABLESPACE {}", quote_ident(tablespace)));
    }
}

/// An index's or constraint's statements with `default_tablespace` set around them.
pub(super) fn place_index(sql: &mut Vec<String>, tablespace: &str) {
    sql.insert(
        0,
        format!("SET default_tablespace = {}", quote_ident(tablespace)),
    );
    sql.push("RESET default_tablespace".to_string());
}

/// `attach_tablespace` for a tablespace attached to the source hypertable. It may be
/// attached already: `create_hypertable` attaches the table's own tablespace.
pub(super) fn attach_sql(ts_schema: &str, target: &QualifiedName, tablespace: &str) -> String {
    format!(
        "SELECT {}.attach_tablespace({}, {}::regclass, if_not_attached => true)",
        quote_ident(ts_schema),
        quote_literal(tablespace),
        quote_literal(&target.sql())
    )
}
