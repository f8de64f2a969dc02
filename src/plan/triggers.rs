//! User triggers carried to the target: one `trigger:<table>` step per table that
//! creates them all on the table's target name, in the state each has on the source
//! (enabled, disabled, replica or always), once the table's rows are loaded and
//! checked. Until then the target table has none, so no trigger fires for a copied
//! row: a row arrives as the source holds it, and an audit table moved alongside
//! holds exactly the source's rows. On a hypertable the trigger is created on the
//! hypertable, and TimescaleDB creates it on every chunk. The functions they execute
//! come with the table's other functions (`functions.rs`), before the tables.
//!
//! A trigger that cannot be created is refused by name, or with
//! `on_unsupported: warn` left out and listed as a warning.

use std::collections::BTreeSet;

use super::Inputs;
use super::functions;
use super::shape::Shape;
use crate::catalog::{Table, Trigger, TriggerNames};
use crate::pg::{QualifiedName, quote_ident};
use crate::spec::{OnUnsupported, Spec, TableSpec};

/// The first TimescaleDB release that enables and disables a hypertable's triggers
/// (earlier ones refuse `ALTER TABLE … DISABLE TRIGGER` on a hypertable: timescaledb
/// issue #4757, fixed by pull request #9648).
const TOGGLES_HYPERTABLE_TRIGGERS: (u32, u32) = (2, 27);

/// What the plan says of the step, as the first lines of its SQL.
const NOTE: &str = "-- Created once the rows are loaded and checked: triggers are disabled during the load,\n-- so none of them fires for a copied row.";

/// Why a trigger cannot be created on the target, when it cannot.
fn refusal(inputs: &Inputs, table: &Table, shape: &Shape, tr: &Trigger) -> Option<String> {
    if let Some(why) = &tr.unrecreatable {
        return Some(why.clone());
    }
    if let Some(from) = &tr.from_table {
        return Some(format!(
            "it is a constraint trigger FROM {from}, another table, which hypermove does not carry"
        ));
    }
    if tr.names_row_type {
        return Some(
            "its WHEN condition names the table's row type by its source name".to_string(),
        );
    }
    if let Some(why) = function_problem(inputs, table, tr) {
        return Some(why);
    }
    if matches!(shape, Shape::Hypertable { .. }) {
        if tr.is_row() && (tr.old_table.is_some() || tr.new_table.is_some()) {
            return Some(
                "it is a row trigger with transition tables, which TimescaleDB does not support on a hypertable".to_string(),
            );
        }
        if tr.enabled != 'O' && !toggles_hypertable_triggers(inputs) {
            return Some(format!(
                "it is {} on the source, and TimescaleDB {} on the target cannot set that on a hypertable (2.{} and later can)",
                state(tr.enabled),
                target_timescaledb(inputs).unwrap_or("?"),
                TOGGLES_HYPERTABLE_TRIGGERS.1
            ));
        }
    }
    None
}

/// Why the trigger's function will not be on the target when the trigger is
/// created, if it will not. One of the table's functions is there when the plan
/// creates it or the target has it (`functions::check` refused or listed the
/// others); one no moved table brings (of pg_catalog, or of an extension) must be
/// on the target already.
fn function_problem(inputs: &Inputs, table: &Table, tr: &Trigger) -> Option<String> {
    match table
        .functions
        .iter()
        .find(|f| f.name == tr.function && f.args.is_empty())
    {
        Some(f)
            if functions::recreatable(f)
                || inputs.target_function_defs.contains_key(&f.signature()) =>
        {
            None
        }
        Some(f) => Some(format!(
            "its function {} is in language {}, which hypermove does not recreate, and the target lacks it",
            f.signature(),
            f.language
        )),
        None if inputs.target_functions.contains(&tr.function.sql()) => None,
        None => Some(format!(
            "its function {} is not on the target (create it there, or its extension, first)",
            tr.function
        )),
    }
}

/// The functions the tables' triggers execute that are none of the tables' own
/// functions (of pg_catalog, or of an extension): the target must have them. Named
/// as SQL, as `Inputs::target_functions` holds them.
pub(super) fn functions_outside(tables: &[Table]) -> BTreeSet<String> {
    tables
        .iter()
        .flat_map(|t| {
            t.triggers
                .iter()
                .filter(|tr| tr.unrecreatable.is_none())
                .filter(|tr| {
                    !t.functions
                        .iter()
                        .any(|f| f.name == tr.function && f.args.is_empty())
                })
                .map(|tr| tr.function.sql())
        })
        .collect()
}

/// `enabled`, `disabled`, … for a `tgenabled` value.
fn state(enabled: char) -> &'static str {
    match enabled {
        'D' => "disabled",
        'R' => "enabled for replica sessions only",
        'A' => "enabled always (replica sessions too)",
        _ => "enabled",
    }
}

/// The TimescaleDB version the target runs, or will install.
fn target_timescaledb(inputs: &Inputs) -> Option<&str> {
    let server = &inputs.target_server;
    server
        .timescaledb
        .as_deref()
        .or(server.timescaledb_available.as_deref())
}

/// Whether the target's TimescaleDB can disable or enable a hypertable's triggers.
fn toggles_hypertable_triggers(inputs: &Inputs) -> bool {
    let Some(version) = target_timescaledb(inputs) else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= TOGGLES_HYPERTABLE_TRIGGERS,
        _ => false,
    }
}

/// Refuse, by name, every trigger of the table that cannot be created on the
/// target; with `on_unsupported: warn`, list them instead. Returns the warnings.
pub(super) fn check(
    spec: &Spec,
    inputs: &Inputs,
    t: &TableSpec,
    table: &Table,
    shape: &Shape,
) -> Result<Vec<String>, String> {
    let refused: Vec<(String, String)> = table
        .triggers
        .iter()
        .filter_map(|tr| Some((tr.name.clone(), refusal(inputs, table, shape, tr)?)))
        .collect();
    if refused.is_empty() {
        return Ok(Vec::new());
    }
    if spec.on_unsupported == OnUnsupported::Warn {
        return Ok(refused
            .into_iter()
            .map(|(name, why)| {
                format!(
                    "{}: trigger {} is not carried over (on_unsupported: warn): {why}",
                    t.source,
                    quote_ident(&name)
                )
            })
            .collect());
    }
    Err(format!(
        "triggers that cannot be carried over: {}; drop them on the source first, or `on_unsupported: warn` to move the table without them",
        refused
            .iter()
            .map(|(name, why)| format!("trigger {}: {why}", quote_ident(name)))
            .collect::<Vec<_>>()
            .join("; ")
    ))
}

/// The table's triggers that move (the others were refused or listed by `check`).
pub(super) fn carried<'a>(inputs: &Inputs, table: &'a Table, shape: &Shape) -> Vec<&'a Trigger> {
    table
        .triggers
        .iter()
        .filter(|tr| refusal(inputs, table, shape, tr).is_none())
        .collect()
}

/// The statements of the table's trigger step, on its target name: each trigger,
/// then the state of those not simply enabled. The first says when they run.
pub(super) fn triggers_sql(target: &QualifiedName, triggers: &[&Trigger]) -> Vec<String> {
    let table = target.sql();
    let mut sql: Vec<String> = triggers
        .iter()
        .map(|tr| {
            tr.definition(&TriggerNames {
                trigger: quote_ident(&tr.name),
                table: table.clone(),
                columns: tr.columns.iter().map(|c| quote_ident(c)).collect(),
                old_table: tr.old_table.as_deref().map(quote_ident),
                new_table: tr.new_table.as_deref().map(quote_ident),
                function: tr.function.sql(),
                // A constraint trigger FROM another table is refused.
                from_table: None,
            })
        })
        .collect();
    for tr in triggers {
        let how = match tr.enabled {
            'D' => "DISABLE",
            'R' => "ENABLE REPLICA",
            'A' => "ENABLE ALWAYS",
            _ => continue,
        };
        sql.push(format!(
            "ALTER TABLE {table} {how} TRIGGER {}",
            quote_ident(&tr.name)
        ));
    }
    if let Some(first) = sql.first_mut() {
        *first = format!("{NOTE}\n{first}");
    }
    sql
}
