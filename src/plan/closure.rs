//! The refusals and warnings of the named objects around the moved tables: the
//! database-wide default privileges `grants: true` meets, the collations and text
//! search configurations the tables use, and the tablespaces they are stored in.
//! All of them are collected before the plan refuses, so it names every one. Pure.

use super::{Inputs, PlanError, collations, grants, tablespace};
use crate::spec::Spec;

/// What the checks found: warnings for the plan, and refusals.
#[derive(Debug, Default)]
pub(super) struct Findings {
    /// Objects already on the target and equal, and those `on_unsupported: warn`
    /// lets go: said in the plan.
    pub(super) warnings: Vec<String>,
    /// Objects refused, each by kind and name.
    pub(super) refused: Vec<String>,
}

/// Run every check; refuse with all the refused objects, one a line, or return the
/// warnings.
pub(super) fn check(spec: &Spec, inputs: &Inputs) -> Result<Vec<String>, PlanError> {
    let mut found = Findings::default();
    grants::check_database_wide(spec, inputs, &mut found);
    collations::check(spec, inputs, &mut found);
    tablespace::check(spec, inputs, &mut found);
    if found.refused.is_empty() {
        Ok(found.warnings)
    } else {
        Err(PlanError::Target(found.refused.join("\n")))
    }
}
