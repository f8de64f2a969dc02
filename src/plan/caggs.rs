//! Continuous aggregates of the moved hypertables (see `catalog::ContinuousAggregate`):
//! which ones move, under which name, and the SQL of their steps. Pure.
//!
//! **How the buckets are carried.** A continuous aggregate is recreated on the target
//! `WITH NO DATA` (nothing is refreshed), its materialized rows are copied from the
//! source's materialization hypertable into the target's, and then its state is
//! written as the source has it, in the move's snapshot: the watermark (buckets before
//! it are read from the materialization, the rest computed from the raw rows when it
//! is real-time), the invalidation threshold of the hypertable it reads, and the
//! pending invalidations of both. The target then answers as the source does, bucket
//! for bucket, and behaves as the source would from there on: a refresh recomputes
//! exactly what the source's would (new rows above the threshold, and what the source
//! had invalidated), real-time aggregation reads the raw rows above the same watermark.
//!
//! The alternative, refreshing on the target where raw rows exist and copying only
//! where they do not, was rejected: (1) a refresh recomputes buckets the source holds
//! stale (raw rows changed since its last refresh, an invalidation pending), so the
//! target would answer differently from the source; (2) it cannot know which buckets
//! lost their raw rows to retention without comparing both, and a refresh over those
//! deletes them; (3) its watermark would be where the refresh ended, not the source's,
//! which moves the real-time boundary. Writing TimescaleDB's catalog is what its own
//! dump and restore do (those tables are the extension's configuration, dumped as
//! data); the statements are plain `UPDATE`/`INSERT`s on rows found by the
//! aggregate's name, shown in the plan, and need a superuser on the target. The
//! materialization's column layout is the aggregate's output columns, in both 2.19
//! and 2.29 (finalized form): an aggregate in the old, non-finalized form is refused.

use std::collections::{BTreeMap, BTreeSet};

use super::shape::Shape;
use super::views::Rename;
use super::{Inputs, PlanError};
use crate::catalog::{ContinuousAggregate, TimeType};
use crate::pg::QualifiedName;
use crate::spec::{OnUnsupported, Spec};

/// An aggregate's name on the target: its own, in the schema `schema_map:` maps its
/// schema to.
pub(crate) fn target_name(spec: &Spec, c: &ContinuousAggregate) -> QualifiedName {
    let schema = spec
        .schema_map
        .get(&c.name.schema)
        .unwrap_or(&c.name.schema);
    QualifiedName::new(schema.clone(), c.name.name.clone())
}

/// An aggregate the plan moves, with what its steps need.
#[derive(Debug)]
pub(super) struct Placed<'a> {
    /// The source's aggregate.
    pub(super) cagg: &'a ContinuousAggregate,
    /// The selection index of the moved hypertable it is built on (through others).
    pub(super) base: usize,
    /// Its name on the target.
    pub(super) target: QualifiedName,
    /// The aggregate it reads, by its target name.
    pub(super) parent: Option<QualifiedName>,
    /// What its query names that is elsewhere on the target.
    pub(super) renames: Vec<Rename>,
    /// Moved tables its query joins, by selection index.
    pub(super) joins: Vec<usize>,
}

/// The aggregates that move, each after the one it reads, and what stays behind.
#[derive(Debug, Default)]
pub(super) struct Resolved<'a> {
    /// In creation order.
    pub(super) placed: Vec<Placed<'a>>,
    /// What stays behind (with `on_unsupported: warn`), and what is said about the rest.
    pub(super) warnings: Vec<String>,
}

impl Resolved<'_> {
    /// The aggregates that move, by source OID: (source name, target name).
    pub(super) fn by_oid(&self) -> super::views::Caggs {
        self.placed
            .iter()
            .map(|p| (p.cagg.oid, (p.cagg.name.clone(), p.target.clone())))
            .collect()
    }
}

/// Decide which aggregates move. Independent of the tables' own checks, so that a
/// refused plan names the aggregates too.
pub(super) fn resolve<'a>(spec: &Spec, inputs: &'a Inputs) -> Result<Resolved<'a>, PlanError> {
    let shapes: Vec<Option<Shape>> = inputs
        .selection
        .iter()
        .zip(&inputs.tables)
        .map(|(t, table)| super::shape::shape_of(t, table, inputs).ok())
        .collect();
    let moved: BTreeMap<&QualifiedName, usize> = inputs
        .selection
        .iter()
        .enumerate()
        .map(|(i, t)| (&t.source, i))
        .collect();
    let mut planned: BTreeSet<QualifiedName> =
        inputs.selection.iter().map(|t| t.target.clone()).collect();
    planned.extend(
        inputs
            .views
            .iter()
            .map(|v| super::views::target_name(spec, v)),
    );
    let mut out = Resolved::default();
    let mut refused = Vec::new();
    // Target names of the aggregates that move, by source name.
    let mut placed_names: BTreeMap<QualifiedName, QualifiedName> = BTreeMap::new();
    for (base, (t, table)) in inputs.selection.iter().zip(&inputs.tables).enumerate() {
        let Some(h) = &table.hypertable else { continue };
        for c in &h.continuous_aggregates {
            let target = target_name(spec, c);
            let mut missing: Vec<String> = Vec::new();
            let mut blocked: Vec<String> = Vec::new();
            if inputs.archive.is_some() {
                missing.push("a backup does not carry continuous aggregates yet".into());
            }
            let license = inputs.target_server.timescaledb_license.as_deref();
            if license != Some("timescale") {
                missing.push(format!(
                    "continuous aggregates need TimescaleDB's community edition on the target, and the target's is licensed `{}`",
                    license.unwrap_or("unknown")
                ));
            }
            if !c.finalized {
                missing.push("it is in the old, non-finalized form, which TimescaleDB 2.2x cannot hold (migrate it on the source with cagg_migrate first)".into());
            }
            if !inputs.target_privileges.superuser {
                missing.push(format!(
                    "its watermark and invalidation threshold are written into TimescaleDB's catalog, which needs a superuser on the target, and {} is not one",
                    inputs.target_privileges.role
                ));
            }
            match &shapes[base] {
                Some(Shape::Hypertable { time_column, .. })
                    if Some(time_column.as_str()) == source_time_column(table) => {}
                Some(Shape::Hypertable { time_column, .. }) => missing.push(format!(
                    "the spec partitions {} by `{time_column}` on the target, and the aggregate buckets its own time column",
                    t.source
                )),
                Some(Shape::Plain) => {
                    missing.push(format!("the spec makes {} a plain table", t.source))
                }
                // The table itself is refused, with its reason.
                None => {}
            }
            if t.from.is_some() || t.until.is_some() {
                missing.push(format!(
                    "the spec moves only part of {}'s rows (from:/until:), and its real-time buckets would differ",
                    t.source
                ));
            }
            let parent = match &c.parent {
                None => None,
                Some(p) => match placed_names.get(p) {
                    Some(target) => Some(target.clone()),
                    None => {
                        missing.push(format!(
                            "it reads continuous aggregate {p}, which is not carried over"
                        ));
                        None
                    }
                },
            };
            let mut joins = Vec::new();
            for r in &c.other_reads {
                match moved.get(r) {
                    Some(&i) => joins.push(i),
                    None => missing.push(format!("it reads {r}, which is not moved")),
                }
            }
            if inputs.target_names_taken.contains(&target) {
                blocked.push(format!(
                    "{target} already exists on the target, and hypermove never replaces what it did not create (drop it there first)"
                ));
            } else if planned.contains(&target) || placed_names.values().any(|n| *n == target) {
                blocked.push(format!(
                    "the plan gives its name {target} to another relation"
                ));
            }
            // The roles its owner and grants name are checked with the tables'
            // (preflight's one list of missing roles).
            // What its query names by source names that is elsewhere on the target.
            let mut renames = Vec::new();
            let mut read = |source: &QualifiedName, target: &QualifiedName, keyword| {
                if source == target {
                    return;
                }
                let r = Rename {
                    target: target.clone(),
                    source: source.clone(),
                    keyword,
                };
                for name in std::iter::once(r.source.clone()).chain(r.between()) {
                    if inputs.target_names_taken.contains(&name) || planned.contains(&name) {
                        blocked.push(format!(
                            "its query names {}, which is {} on the target, and the name {name} it needs there for a moment is taken",
                            r.source, r.target
                        ));
                    }
                }
                renames.push(r);
            };
            match (&c.parent, &parent) {
                (Some(p), Some(pt)) => read(p, pt, "MATERIALIZED VIEW"),
                _ => read(&t.source, &t.target, "TABLE"),
            }
            for &j in &joins {
                let s = &inputs.selection[j];
                read(&s.source, &s.target, "TABLE");
            }
            renames.sort_by(|a, b| a.target.cmp(&b.target));
            if !spec.grants {
                if let Some(g) = c.grants.as_ref().filter(|g| !g.grants.is_empty()) {
                    out.warnings.push(format!(
                        "continuous aggregate {}: its owner {} and grants stay behind (grants: true carries them)",
                        c.name, g.owner
                    ));
                }
            }
            let label = format!("continuous aggregate {}", c.name);
            for b in &blocked {
                refused.push(PlanError::table(
                    spec,
                    t,
                    format!("{label} cannot be carried over: {b}"),
                ));
            }
            if !missing.is_empty() {
                let why = missing.join("; ");
                if spec.on_unsupported == OnUnsupported::Warn {
                    out.warnings.push(format!(
                        "{}: {label} depends on it on the source; not carried over (on_unsupported: warn): {why}",
                        t.source
                    ));
                } else {
                    refused.push(PlanError::table(
                        spec,
                        t,
                        format!(
                            "{label} depends on it and cannot be carried over: {why} (`on_unsupported: warn` moves the table without it, and lists it)"
                        ),
                    ));
                }
                continue;
            }
            if !blocked.is_empty() {
                continue;
            }
            placed_names.insert(c.name.clone(), target.clone());
            out.placed.push(Placed {
                cagg: c,
                base,
                target,
                parent,
                renames,
                joins,
            });
        }
    }
    match PlanError::collected(refused) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The source hypertable's time (first) dimension column.
fn source_time_column(table: &crate::catalog::Table) -> Option<&str> {
    table
        .hypertable
        .as_ref()
        .and_then(|h| h.dimensions.first())
        .map(|d| d.column.as_str())
}

/// The names gather asks the target about for the aggregates of these tables: each
/// one's target name and the source names its renamed reads take for a moment; and
/// the schemas of both.
pub(crate) fn names_to_probe(
    spec: &Spec,
    selection: &[crate::spec::TableSpec],
    tables: &[crate::catalog::Table],
) -> (BTreeSet<QualifiedName>, BTreeSet<String>) {
    let mut names = BTreeSet::new();
    let mut schemas = BTreeSet::new();
    for (t, table) in selection.iter().zip(tables) {
        let Some(h) = &table.hypertable else { continue };
        for c in &h.continuous_aggregates {
            let target = target_name(spec, c);
            schemas.insert(target.schema.clone());
            names.insert(target);
            let (source, target) = match &c.parent {
                Some(p) => (
                    p.clone(),
                    QualifiedName::new(
                        spec.schema_map.get(&p.schema).unwrap_or(&p.schema).clone(),
                        p.name.clone(),
                    ),
                ),
                None => (t.source.clone(), t.target.clone()),
            };
            if source != target {
                let r = Rename {
                    target,
                    source: source.clone(),
                    keyword: "TABLE",
                };
                schemas.insert(source.schema.clone());
                names.extend(r.between());
                names.insert(source);
            }
        }
    }
    (names, schemas)
}

/// The roles an aggregate's owner and grants name.
pub(crate) fn roles(tables: &[crate::catalog::Table]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for table in tables {
        let Some(h) = &table.hypertable else { continue };
        for g in h
            .continuous_aggregates
            .iter()
            .filter_map(|c| c.grants.as_ref())
        {
            out.insert(g.owner.clone());
            out.extend(g.grants.iter().filter_map(|(r, _, _)| r.clone()));
        }
    }
    out
}

/// The bucket column's type family.
fn time_type(c: &ContinuousAggregate) -> TimeType {
    c.time_type
}

mod data;
mod sql;

pub(super) use data::{copy_window, probe, suffix, verification, verify_ranges, windows};
pub(super) use sql::{create_sql, state_sql};
