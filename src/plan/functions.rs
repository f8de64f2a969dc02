//! User functions the moved tables need (see `catalog::UserFunction`): which ones the
//! plan creates, which it finds on the target already, and which it refuses. Pure.

use super::{Inputs, PlanError};
use crate::catalog::{Table, UserFunction};
use crate::spec::{OnUnsupported, Spec};

/// Languages whose functions are recreated from their definition alone. Any other
/// (C above all) needs a library file on the target that hypermove cannot check.
const RECREATABLE: &[&str] = &["sql", "plpgsql", "internal"];

/// Whether a function can be recreated on the target from its definition.
pub(super) fn recreatable(f: &UserFunction) -> bool {
    RECREATABLE.contains(&f.language.as_str())
}

/// Whether `name`, as a spec or TimescaleDB's catalog writes it (`schema.name`,
/// quoted or not, or a bare name), names `f`.
pub(super) fn names(name: &str, f: &UserFunction) -> bool {
    name == f.name.to_string() || name == f.name.sql() || name == f.name.name
}

/// Whether the function `name` will be on the target when the table is created:
/// there already with the source's definition, or created by the plan.
pub(super) fn carried(name: &str, table: &Table) -> bool {
    table
        .functions
        .iter()
        .any(|f| names(name, f) && recreatable(f))
}

/// Every function the tables and `more` (the moved views') need, once, callees
/// first (deepest, then by name).
pub(super) fn needed<'a>(
    inputs: &'a Inputs,
    more: impl Iterator<Item = &'a UserFunction>,
) -> Vec<&'a UserFunction> {
    let mut out: Vec<&UserFunction> = Vec::new();
    for f in inputs.tables.iter().flat_map(|t| &t.functions).chain(more) {
        match out.iter_mut().find(|o| o.signature() == f.signature()) {
            // Two tables may reach the same function at different depths: the
            // deeper one decides, so it comes before everything that calls it.
            Some(o) if o.depth < f.depth => *o = f,
            Some(_) => {}
            None => out.push(f),
        }
    }
    out.sort_by(|a, b| {
        b.depth
            .cmp(&a.depth)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.args.cmp(&b.args))
    });
    out
}

/// Refuse, naming them, the functions that cannot be recreated (unless
/// `on_unsupported: warn`, which lists them instead) and those the target has with
/// another definition (hypermove never replaces what it did not create). Returns the
/// warnings.
pub(super) fn check(
    spec: &Spec,
    inputs: &Inputs,
    needed: &[&UserFunction],
) -> Result<Vec<String>, PlanError> {
    let mut warnings = Vec::new();
    let mut refused = Vec::new();
    for f in needed {
        let sig = f.signature();
        match inputs.target_function_defs.get(&sig) {
            Some(def) if *def == f.definition => {}
            Some(_) => refused.push(format!(
                "function {sig} exists on the target with a different definition; hypermove does not replace it (make the two the same, or drop it there)"
            )),
            None if recreatable(f) => {}
            None if spec.on_unsupported == OnUnsupported::Warn => warnings.push(format!(
                "function {sig} (language {}) is not carried over (on_unsupported: warn); what calls it fails on the target until it exists there",
                f.language
            )),
            None => refused.push(format!(
                "function {sig} is in language {}; hypermove recreates SQL and PL/pgSQL functions only (create it on the target first, or `on_unsupported: warn` to go without it)",
                f.language
            )),
        }
    }
    match PlanError::collected(refused.into_iter().map(PlanError::Target).collect()) {
        None => Ok(warnings),
        Some(e) => Err(e),
    }
}

/// What the plan does with each needed function: `Some(sql)` to create it, `None`
/// when the target has it already (same definition) or it is not carried (warned).
pub(super) fn create_sql(inputs: &Inputs, f: &UserFunction) -> Option<String> {
    if inputs.target_function_defs.contains_key(&f.signature()) || !recreatable(f) {
        return None;
    }
    // pg_get_functiondef writes CREATE OR REPLACE; plain CREATE fails instead of
    // replacing a function that appeared on the target since the plan was made.
    // A job's procedure is written CREATE OR REPLACE PROCEDURE.
    Some(
        f.definition
            .replacen("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION", 1)
            .replacen("CREATE OR REPLACE PROCEDURE", "CREATE PROCEDURE", 1),
    )
}
