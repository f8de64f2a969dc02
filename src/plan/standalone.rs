//! Sequences the moved tables' defaults draw from without owning them
//! (`DEFAULT nextval('app.ticket_seq')`). One no moved column owns is created before
//! the tables under its source name (the defaults' text names it so) and set after
//! the data; one another moved column owns comes with that column's table, which
//! then is created first. Pure.

use std::borrow::Cow;

use super::{Inputs, PlanError};
use crate::catalog::OwnedSequence;
use crate::pg::QualifiedName;

/// How a default's sequence reaches the target.
#[derive(Debug, PartialEq)]
pub(super) enum Carry {
    /// Created by its own step: no column owns it, or its owner stays behind.
    Create,
    /// Created with the moved table (by selection index) whose column owns it, under
    /// the same name (a serial's sequence goes to its table's target schema).
    ByOwner(usize),
    /// Its owner moves to another schema, where the default's text would not find
    /// it: the default is left out, and the plan says so.
    Not,
}

/// How `seq` reaches the target.
pub(super) fn carry(inputs: &Inputs, seq: &OwnedSequence) -> Carry {
    let Some((owner, _)) = &seq.owned_by else {
        return Carry::Create;
    };
    let Some(i) = inputs.selection.iter().position(|t| t.source == *owner) else {
        return Carry::Create;
    };
    let serial = inputs.tables[i]
        .sequences
        .iter()
        .any(|s| s.name == seq.name && s.dep == 'a');
    if serial && inputs.selection[i].target.schema == seq.name.schema {
        Carry::ByOwner(i)
    } else {
        Carry::Not
    }
}

/// The inputs without the defaults' sequences that cannot be carried, so that those
/// defaults are left out (and warned about) as before.
pub(super) fn resolve(inputs: &Inputs) -> Cow<'_, Inputs> {
    let dropped = |s: &OwnedSequence| carry(inputs, s) == Carry::Not;
    if !inputs
        .tables
        .iter()
        .flat_map(|t| &t.default_sequences)
        .any(dropped)
    {
        return Cow::Borrowed(inputs);
    }
    let mut out = inputs.clone();
    for table in &mut out.tables {
        table.default_sequences.retain(|s| !dropped(s));
    }
    Cow::Owned(out)
}

/// Every sequence the plan creates for defaults once, by name, with the selected
/// tables (by index) whose defaults draw from it.
pub(super) fn needed(inputs: &Inputs) -> Vec<(&OwnedSequence, Vec<usize>)> {
    let mut out: Vec<(&OwnedSequence, Vec<usize>)> = Vec::new();
    for (i, table) in inputs.tables.iter().enumerate() {
        for seq in &table.default_sequences {
            if carry(inputs, seq) != Carry::Create {
                continue;
            }
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
