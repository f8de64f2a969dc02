//! Every plan-time refusal, and the privilege preflight: all of them run before the
//! first step is added, so a refused spec has written nothing and says every
//! reason it can at once.

use std::collections::{BTreeSet, HashMap};

use super::ddl::uses_sequence;
use super::shape::{Extra, Shape, shape_of, time_of};
use super::{Inputs, PlanError};
use crate::catalog::{
    Constraint, ConstraintKind, DimensionKind, ForeignKey, Table, TimeBounds, TimeType, UserType,
};
use crate::pg::{QualifiedName, display_ident};
use crate::spec::{OnUnsupported, Spec, TableSpec, TargetShape, TimeValue};

/// What the checks leave for the builder: every table's target shape, in selection
/// order, and the warnings `on_unsupported: warn` gives instead of refusing.
pub(super) struct Checked {
    /// One shape per selected table.
    pub(super) shapes: Vec<Shape>,
    /// Features that will not carry over, said out loud.
    pub(super) warnings: Vec<String>,
    /// One per selected table: its compression and policies on the target.
    pub(super) compressions: Vec<super::compression::Decision>,
}

/// Run every check a spec must pass before any step exists, in the order the
/// reviewer meets the problems: the target as a whole, then each table, then the
/// links between tables, then what the roles may do.
pub(super) fn check(spec: &Spec, inputs: &Inputs) -> Result<Checked, PlanError> {
    // Every refusal is collected, not only the first: a reviewer fixes them all in
    // one round.
    let mut refused: Vec<PlanError> = Vec::new();
    refused.extend(check_roles(spec, inputs).err());
    refused.extend(check_not_itself(spec, inputs).err());
    // Decide every table's shape first, so that all refusals come before any step.
    let mut shapes = Vec::with_capacity(inputs.selection.len());
    let mut warnings = Vec::new();
    let mut compressions = Vec::with_capacity(inputs.selection.len());
    for (i, (t, table)) in inputs.selection.iter().zip(&inputs.tables).enumerate() {
        let mut reasons: Vec<String> = Vec::new();
        reasons.extend(check_not_existing(inputs, t).err());
        reasons.extend(check_names_free(inputs, t, table).err());
        reasons.extend(check_lz4(inputs, table).err());
        match grants_left(spec, inputs, i) {
            Ok(w) => warnings.extend(w.into_iter().map(|w| format!("{}: {w}", t.source))),
            Err(e) => reasons.push(e),
        }
        match unsupported(spec, t, table) {
            Ok(w) => warnings.extend(w),
            Err(e) => reasons.push(e),
        }
        match shape_of(t, table, inputs) {
            Ok(shape) => {
                reasons.extend(check_no_null_times(t, &shape, inputs.time_bounds[i]).err());
                reasons.extend(check_unique_keys(table, &shape).err());
                reasons.extend(check_filters(t, table, &shape).err());
                match super::triggers::check(spec, inputs, t, table, &shape) {
                    Ok(w) => warnings.extend(w),
                    Err(e) => reasons.push(e),
                }
                match not_carried(spec, inputs, t, table, &shape) {
                    Ok(w) => warnings.extend(w),
                    Err(e) => reasons.push(e),
                }
                match super::compression::decide(spec, inputs, t, table, &shape) {
                    Ok(mut d) => {
                        warnings.append(&mut d.warnings);
                        compressions.push(d);
                    }
                    Err(e) => reasons.push(e),
                }
                shapes.push(shape);
            }
            Err(e) => reasons.push(e),
        }
        reasons.extend(check_readable(table).err());
        reasons.extend(super::security::check_policies(table).err());
        refused.extend(reasons.into_iter().map(|m| PlanError::table(spec, t, m)));
    }
    refused.extend(check_fk_targets(spec, inputs));
    let needs_timescaledb = shapes.iter().any(|s| matches!(s, Shape::Hypertable { .. }));
    refused.extend(check_privileges(inputs, needs_timescaledb).err());
    refused.extend(check_timescaledb(inputs, needs_timescaledb).err());
    match PlanError::collected(refused) {
        Some(e) => Err(e),
        None => Ok(Checked {
            shapes,
            warnings,
            compressions,
        }),
    }
}

/// `grants: true` (owners, table and column grants, the schemas' default privileges)
/// and row-level security policies need every role they name on the target; name all
/// the missing ones at once.
fn check_roles(spec: &Spec, inputs: &Inputs) -> Result<(), PlanError> {
    let mut missing_roles: BTreeSet<&str> = BTreeSet::new();
    for g in inputs.grants.iter().flatten() {
        for role in super::grants::roles(g) {
            if !inputs.target_roles.contains(role) {
                missing_roles.insert(role);
            }
        }
    }
    // And those of the continuous aggregates' owners and grants.
    let cagg_roles = super::caggs::roles(&inputs.tables);
    if spec.grants {
        missing_roles.extend(
            cagg_roles
                .iter()
                .filter(|r| !inputs.target_roles.contains(*r))
                .map(String::as_str),
        );
    }
    let policy_roles = super::security::policy_roles(&inputs.tables);
    let missing_policy_roles = policy_roles
        .iter()
        .any(|r| !inputs.target_roles.contains(r));
    let missing_grant_roles = !missing_roles.is_empty();
    missing_roles.extend(
        policy_roles
            .iter()
            .filter(|r| !inputs.target_roles.contains(*r))
            .map(String::as_str),
    );
    if !missing_roles.is_empty() {
        let needs = match (missing_grant_roles, missing_policy_roles) {
            (true, false) => "grants: true needs",
            (false, _) => "row-level security policies need",
            (true, true) => "grants: true and row-level security policies need",
        };
        return Err(PlanError::Target(format!(
            "{needs} these roles on the target, and they do not exist there: {}; create them first",
            missing_roles
                .into_iter()
                .map(display_ident)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// Moving a table onto itself would read and write the same rows.
fn check_not_itself(spec: &Spec, inputs: &Inputs) -> Result<(), PlanError> {
    let same_database = inputs.source_server.instance == inputs.target_server.instance
        && inputs.source_server.database == inputs.target_server.database;
    if same_database {
        if let Some(t) = inputs.selection.iter().find(|t| t.source == t.target) {
            return Err(PlanError::table(
                spec,
                t,
                "the target is the source itself (same server, database and table); give a `target:` name, or another target database".into(),
            ));
        }
    }
    Ok(())
}

/// hypermove never writes into a table it did not create; a table left by an
/// interrupted run from another source state is named as such.
fn check_not_existing(inputs: &Inputs, t: &TableSpec) -> Result<(), String> {
    if !inputs.target_existing.contains(&t.target) {
        return Ok(());
    }
    Err(if inputs.stale_run {
        format!(
            "{} already exists on the target, from an interrupted run of this spec that began from a different source state (its tables, chunks or columns changed since); a resume would mix two plans, so drop the moved tables and run `hypermove clean` first",
            t.target
        )
    } else {
        format!(
            "{} already exists on the target; hypermove never writes into an existing table (drop it, or choose another `target:`)",
            t.target
        )
    })
}

/// The indexes (standalone, and those behind keys) and extended statistics objects
/// the plan creates for a table, under their source names in its target schema.
pub(super) fn created_names(t: &TableSpec, table: &Table) -> Vec<(&'static str, QualifiedName)> {
    let at = |name: &str| QualifiedName::new(t.target.schema.clone(), name.to_string());
    let keys = table.constraints.iter().filter(|c| {
        matches!(
            c.kind,
            ConstraintKind::PrimaryKey | ConstraintKind::Unique | ConstraintKind::Exclusion
        )
    });
    keys.map(|c| ("index", at(&c.name)))
        .chain(table.indexes.iter().map(|i| ("index", at(&i.name))))
        .chain(
            table
                .statistics
                .iter()
                .map(|s| ("statistics object", at(&s.name))),
        )
        .collect()
}

/// An index or statistics object whose name is taken on the target would fail after
/// the data is copied; hypermove never replaces or renames what it did not create.
fn check_names_free(inputs: &Inputs, t: &TableSpec, table: &Table) -> Result<(), String> {
    let taken: Vec<String> = created_names(t, table)
        .into_iter()
        .filter(|(_, name)| inputs.target_names_taken.contains(name))
        .map(|(kind, name)| format!("{kind} {name}"))
        .collect();
    if taken.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the target already has objects named as its {}; hypermove keeps their names and does not replace what it did not create (drop or rename them there, or choose another target schema)",
        taken.join(", ")
    ))
}

/// Owners and grants a move without `grants: true` leaves behind: the owner, when it
/// is not the role that loads the target (which then owns the table), and every grant
/// to another role. Unsaid in the spec, they are refused by name; `grants: false`
/// leaves them behind on purpose, and the plan lists them.
fn grants_left(spec: &Spec, inputs: &Inputs, index: usize) -> Result<Vec<String>, String> {
    let Some(Some(g)) = inputs.grants_left.get(index) else {
        return Ok(Vec::new());
    };
    let mut left = Vec::new();
    if g.owner != inputs.target_privileges.role {
        left.push(format!("its owner {}", display_ident(&g.owner)));
    }
    let mut grantees: BTreeSet<String> = g
        .grants
        .iter()
        .map(|(r, _, _)| r.as_deref().map_or("PUBLIC".to_string(), display_ident))
        .collect();
    grantees.extend(g.columns.iter().map(|c| {
        c.grantee
            .as_deref()
            .map_or("PUBLIC".to_string(), display_ident)
    }));
    if !grantees.is_empty() {
        left.push(format!(
            "its grants to {}",
            grantees.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if left.is_empty() {
        return Ok(Vec::new());
    }
    if spec.grants_given {
        return Ok(vec![format!(
            "{} stay behind (grants: false); on the target it belongs to {}",
            left.join(" and "),
            display_ident(&inputs.target_privileges.role)
        )]);
    }
    Err(format!(
        "{} would stay behind: say `grants: true` to carry them (the roles must exist on the target), or `grants: false` to leave them behind",
        left.join(" and ")
    ))
}

/// `SET COMPRESSION lz4` fails on a server built without lz4, after the data is in.
fn check_lz4(inputs: &Inputs, table: &Table) -> Result<(), String> {
    if inputs.target_server.lz4 {
        return Ok(());
    }
    let columns: Vec<&str> = table
        .settings
        .iter()
        .flat_map(|s| &s.columns)
        .filter(|c| c.compression == Some('l'))
        .map(|c| c.name.as_str())
        .collect();
    if columns.is_empty() {
        return Ok(());
    }
    Err(format!(
        "column{} {} use{} lz4 compression, and the target server was built without lz4; switch {} to pglz on the source (ALTER TABLE … ALTER COLUMN … SET COMPRESSION pglz), or use a target built with lz4",
        if columns.len() == 1 { "" } else { "s" },
        columns.join(", "),
        if columns.len() == 1 { "s" } else { "" },
        if columns.len() == 1 { "it" } else { "them" },
    ))
}

/// Source features hypermove does not carry (compression settings, continuous
/// aggregates, policies): refused, or with `on_unsupported: warn` listed as warnings.
fn unsupported(spec: &Spec, t: &TableSpec, table: &Table) -> Result<Vec<String>, String> {
    let Some(h) = &table.hypertable else {
        return Ok(Vec::new());
    };
    if spec.on_unsupported == OnUnsupported::Warn {
        return Ok(h
            .unsupported
            .iter()
            .map(|feature| {
                format!(
                    "{}: {feature} on the source; not carried over (on_unsupported: warn)",
                    t.source
                )
            })
            .collect());
    }
    if h.unsupported.is_empty() {
        return Ok(Vec::new());
    }
    Err(match h.unsupported.as_slice() {
        [feature] => format!(
            "{feature} on the source; hypermove does not carry it over yet (`on_unsupported: warn` moves every row without it, and lists it in the plan)"
        ),
        all => format!(
            "on the source, {}; hypermove does not carry these over yet (`on_unsupported: warn` moves every row without them, and lists them in the plan)",
            all.join("; ")
        ),
    })
}

/// A hypertable's time column cannot be NULL: rows that are would fail the copy
/// after other windows have already been written.
fn check_no_null_times(
    t: &TableSpec,
    shape: &Shape,
    bounds: Option<TimeBounds>,
) -> Result<(), String> {
    let (Shape::Hypertable { time_column, .. }, Some(bounds)) = (shape, bounds) else {
        return Ok(());
    };
    if bounds.nulls == 0 {
        return Ok(());
    }
    Err(format!(
        "{} row{} of {} {} NULL in time column `{time_column}`; a hypertable's time column cannot be NULL, so fix or delete {} first",
        bounds.nulls,
        if bounds.nulls == 1 { "" } else { "s" },
        t.source,
        if bounds.nulls == 1 { "has" } else { "have" },
        if bounds.nulls == 1 {
            "that row"
        } else {
            "those rows"
        },
    ))
}

/// Every foreign key of the selected tables, with the table it belongs to.
pub(super) fn foreign_keys(
    inputs: &Inputs,
) -> impl Iterator<Item = (&TableSpec, &Constraint, &ForeignKey)> {
    inputs
        .selection
        .iter()
        .zip(&inputs.tables)
        .flat_map(|(t, table)| {
            table.constraints.iter().filter_map(move |c| match &c.kind {
                ConstraintKind::ForeignKey(fk) => Some((t, c, fk)),
                _ => None,
            })
        })
}

/// The target name of each moved table, by its source name: foreign keys between
/// moved tables reference the new names.
pub(super) fn renamed(inputs: &Inputs) -> HashMap<&QualifiedName, &QualifiedName> {
    inputs
        .selection
        .iter()
        .map(|t| (&t.source, &t.target))
        .collect()
}

/// A foreign key needs the table it references on the target: moved with it, or
/// already there.
fn check_fk_targets(spec: &Spec, inputs: &Inputs) -> Vec<PlanError> {
    let renamed = renamed(inputs);
    foreign_keys(inputs)
        .filter(|(_, _, fk)| {
            !renamed.contains_key(&fk.ref_table) && !inputs.target_references.contains(&fk.ref_table)
        })
        .map(|(t, c, fk)| {
            PlanError::table(
                spec,
                t,
                format!(
                    "foreign key {} references {}, which is neither moved nor present on the target; add it to `tables:`",
                    c.name, fk.ref_table
                ),
            )
        })
        .collect()
}

/// Preflight: every privilege the move needs, named at once, before any write.
fn check_privileges(inputs: &Inputs, needs_timescaledb: bool) -> Result<(), PlanError> {
    let sp = &inputs.source_privileges;
    let tp = &inputs.target_privileges;
    let mut missing: Vec<String> = sp
        .unreadable_tables
        .iter()
        .map(|t| format!("source: SELECT on {t}"))
        .collect();
    // A read through row-level security sees what the policies allow: a quiet loss.
    missing.extend(sp.rls_filtered_tables.iter().map(|t| {
        format!(
            "source: reading all of {t}, whose row-level security applies to {} (connect as its owner, or as a role with BYPASSRLS)",
            sp.role
        )
    }));
    if !tp.superuser && !tp.create_in_database {
        missing.push(format!(
            "target: CREATE on database {} (for new schemas and the journal schema hypermove)",
            inputs.target_server.database
        ));
    }
    missing.extend(
        tp.unwritable_schemas
            .iter()
            .map(|s| format!("target: CREATE on schema {}", display_ident(s))),
    );
    if needs_timescaledb && inputs.target_server.timescaledb.is_none() && !tp.superuser {
        missing.push(format!(
            "target: the timescaledb extension is not installed and {} may not create it (an administrator must run CREATE EXTENSION timescaledb)",
            tp.role
        ));
    }
    if !missing.is_empty() {
        return Err(PlanError::Target(format!(
            "the move needs privileges it does not have (nothing was written): {}",
            missing.join("; ")
        )));
    }
    Ok(())
}

/// Hypertables need TimescaleDB on the target: installed, or at least available
/// to `CREATE EXTENSION`.
fn check_timescaledb(inputs: &Inputs, needs_timescaledb: bool) -> Result<(), PlanError> {
    let server = &inputs.target_server;
    if needs_timescaledb && server.timescaledb.is_none() && server.timescaledb_available.is_none() {
        return Err(PlanError::Target(format!(
            "the spec asks for hypertables, but TimescaleDB is not installed on the target server ({}); install it, or move the tables as plain tables",
            server.version
        )));
    }
    Ok(())
}

/// A type that comes from an extension needs that extension on the target: installed,
/// or available to create.
pub(super) fn check_type_extensions(types: &[&UserType], inputs: &Inputs) -> Vec<PlanError> {
    types
        .iter()
        .filter_map(|ty| {
            let ext = ty.extension.as_ref()?;
            matches!(inputs.target_extensions.get(ext), Some((false, false))).then(|| {
                PlanError::Target(format!(
                    "type {} comes from extension {ext}, which the target server does not have; install it there",
                    ty.name
                ))
            })
        })
        .collect()
}

/// `verify` reads a target table that is there, and the source the way `apply`
/// would have: its shape and windows must be decidable as for a move.
pub(super) fn check_verifiable(
    spec: &Spec,
    inputs: &Inputs,
    t: &TableSpec,
    table: &Table,
) -> Result<Shape, PlanError> {
    let at = |m| PlanError::table(spec, t, m);
    if !inputs.target_present.contains(&t.target) {
        return Err(at(format!(
            "{} does not exist on the target; nothing to verify",
            t.target
        )));
    }
    let shape = shape_of(t, table, inputs).map_err(at)?;
    check_readable(table).map_err(at)?;
    Ok(shape)
}

/// A resumed run skips the steps it finished. The journal may name steps this plan
/// does not have (written by another version of hypermove, or by hand): only the
/// plan's own steps count as done. But a copied window this plan does not have
/// means the windows were cut differently when the run began (window sizes changed
/// since): resuming would copy some of its rows a second time.
pub(super) fn check_resume(
    inputs: &Inputs,
    ids: &BTreeSet<&str>,
) -> Result<BTreeSet<String>, PlanError> {
    let copy_prefix = format!("{}:", super::StepKind::Copy.label());
    let foreign: Vec<&String> = inputs
        .resume
        .iter()
        .flatten()
        .filter(|id| id.starts_with(&copy_prefix) && !ids.contains(id.as_str()))
        .collect();
    if let Some(first) = foreign.first() {
        return Err(PlanError::Target(format!(
            "the interrupted run of this spec copied {} window{} this plan does not have (such as {first}): the windows were cut differently when it began, so a resume would copy rows twice; run it with the max_window_rows/max_window_bytes it began with, or start over with `hypermove apply --restart`",
            foreign.len(),
            if foreign.len() == 1 { "" } else { "s" }
        )));
    }
    Ok(inputs
        .resume
        .iter()
        .flatten()
        .filter(|id| ids.contains(id.as_str()))
        .cloned()
        .collect())
}

/// `from:`/`until:` need a time column of the matching kind.
fn check_filters(t: &TableSpec, table: &Table, shape: &Shape) -> Result<(), String> {
    if t.from.is_none() && t.until.is_none() {
        return Ok(());
    }
    let Some((column, tt)) = time_of(table, shape) else {
        return Err(
            "from/until filter on the time column, but this table has none; give `hypertable: {time_column: …}`"
                .into(),
        );
    };
    for v in [t.from, t.until].into_iter().flatten() {
        let fits = matches!(
            (v, tt),
            (TimeValue::Int(_), TimeType::Integer)
                | (
                    TimeValue::Micros(_),
                    TimeType::TimestampTz | TimeType::Timestamp | TimeType::Date
                )
        );
        if !fits {
            return Err(format!(
                "from/until must be {} for time column `{column}`",
                if tt == TimeType::Integer {
                    "integers"
                } else {
                    "times"
                }
            ));
        }
    }
    Ok(())
}

/// TimescaleDB refuses unique keys that leave out a partitioning column; say so
/// at plan time instead of failing after the data is copied.
fn check_unique_keys(table: &Table, shape: &Shape) -> Result<(), String> {
    let Shape::Hypertable {
        time_column, extra, ..
    } = shape
    else {
        return Ok(());
    };
    let mut needed = vec![time_column.as_str()];
    for e in extra {
        match e {
            Extra::Hash { column, .. } | Extra::Range { column, .. } => needed.push(column),
        }
    }
    let keys = table
        .constraints
        .iter()
        .filter(|c| matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique))
        .map(|c| (format!("constraint {}", c.name), c.columns.clone()))
        .chain(table.indexes.iter().filter(|i| i.unique).map(|i| {
            (
                format!("unique index {}", i.name),
                i.key_columns.iter().flatten().cloned().collect(),
            )
        }));
    for (what, columns) in keys {
        if let Some(missing) = needed.iter().find(|n| !columns.iter().any(|c| c == *n)) {
            return Err(format!(
                "{what} on ({}) does not include partitioning column `{missing}`; TimescaleDB requires every unique key of a hypertable to include all partitioning columns",
                columns.join(", ")
            ));
        }
    }
    Ok(())
}

/// Refuse sources whose windows could not be cut so that every row is read: a
/// hypertable whose primary dimension is partitioned by a function (its chunk ranges
/// are on the function's value, not the column's), and a plain table with
/// inheritance children (a query on it reads theirs too, a move of it alone would not).
fn check_readable(table: &Table) -> Result<(), String> {
    if let Some(h) = &table.hypertable {
        let Some(first) = h.dimensions.first() else {
            return Ok(());
        };
        if let Some(f) = &first.partitioning_func {
            return Err(format!(
                "its time dimension `{}` is partitioned by function {f}; hypermove cuts copy windows on the column's own values and cannot yet cut them on a function's",
                first.column
            ));
        }
        if time_of(table, &Shape::Plain).is_none() {
            return Err(format!(
                "its time dimension `{}` is not of a time or integer type; hypermove cannot cut copy windows on it",
                first.column
            ));
        }
    } else if !table.inheritance_children.is_empty() {
        return Err(format!(
            "it has inheritance children ({}); a query on it reads their rows too, and hypermove moves single tables, not inheritance trees",
            table
                .inheritance_children
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(())
}

/// What the plan cannot carry of a table's columns and dimensions: a default whose
/// sequence cannot be created where its text would find it, an `integer_now_func`
/// that is neither on the target nor created by the plan. Refused by name, or with
/// `on_unsupported: warn` listed as warnings.
fn not_carried(
    spec: &Spec,
    inputs: &Inputs,
    t: &TableSpec,
    table: &Table,
    shape: &Shape,
) -> Result<Vec<String>, String> {
    let mut lost = Vec::new();
    for c in &table.columns {
        let owned = table.sequences.iter().any(|s| s.column == c.name)
            || super::ddl::default_sequence_of(table, &c.name).is_some();
        if c.generated.is_none() && !owned && c.default.as_deref().is_some_and(uses_sequence) {
            lost.push(format!(
                "column {} default `{}` draws from a sequence that moves to another schema with the column that owns it, where the default's text would not find it",
                c.name,
                c.default.as_deref().unwrap_or_default()
            ));
        }
    }
    let carried = match shape {
        Shape::Hypertable {
            integer_now_func, ..
        } => integer_now_func.clone(),
        Shape::Plain => None,
    };
    if let (Some(h), None, false) = (
        &table.hypertable,
        &carried,
        matches!(t.shape, TargetShape::Plain),
    ) {
        for d in &h.dimensions {
            if let DimensionKind::Range {
                integer_now_func: Some(f),
                ..
            } = &d.kind
            {
                lost.push(format!(
                    "its integer_now_func {f} is neither on the target nor recreated by the plan, and every policy on the table needs it"
                ));
            }
        }
    }
    if lost.is_empty() {
        return Ok(Vec::new());
    }
    let _ = inputs;
    if spec.on_unsupported == OnUnsupported::Warn {
        return Ok(lost
            .into_iter()
            .map(|l| format!("{}: {l}; not carried over (on_unsupported: warn)", t.source))
            .collect());
    }
    Err(format!(
        "{}; `on_unsupported: warn` moves the table without {}",
        lost.join("; "),
        if lost.len() == 1 { "it" } else { "them" }
    ))
}
