//! Sequences no column owns that the moved tables' defaults draw from
//! (`DEFAULT nextval('app.ticket_seq')`): created before the tables under their
//! source names (the defaults' text names them so), set after the data. Pure.

use super::{Inputs, PlanError};
use crate::catalog::OwnedSequence;
use crate::pg::QualifiedName;

/// Every such sequence once, by name, with the selected tables (by index) whose
/// defaults draw from it.
pub(super) fn needed(inputs: &Inputs) -> Vec<(&OwnedSequence, Vec<usize>)> {
    let mut out: Vec<(&OwnedSequence, Vec<usize>)> = Vec::new();
    for (i, table) in inputs.tables.iter().enumerate() {
        for seq in &table.default_sequences {
            match out.iter_mut().find(|(s, _)| s.name == seq.name) {
                Some((_, users)) if !users.contains(&i) => users.push(i),
                Some(_) => {}
                None => out.push((seq, vec![i])),
            }
        }
    }
    out
}

/// hypermove never takes over what it did not create: a sequence of that name on
/// the target is refused by name (its values would be reused, or clash).
pub(super) fn check(inputs: &Inputs) -> Result<(), PlanError> {
    let present: Vec<&QualifiedName> = needed(inputs)
        .into_iter()
        .map(|(s, _)| &s.name)
        .filter(|n| inputs.target_sequences.contains(n))
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    Err(PlanError::Target(format!(
        "column defaults draw from {}, which already exist on the target; hypermove does not take over a sequence it did not create (drop it there, or move the table without that default)",
        present
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}
