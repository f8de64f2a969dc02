//! Build the step DAG from a spec and the gathered catalogs. Pure: no I/O here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::graph::{DiGraph, NodeIndex};

use super::window::{self, Relation, Window};
use super::{
    Action, CopyWindow, Inputs, Layout, LoadFile, Plan, PlanError, Probe, Step, StepKind,
    TablePlan, WindowBounds,
};
use crate::catalog::{
    ConstraintKind, DimensionKind, ForeignKey, Hypertable, OwnedSequence, ServerInfo, Table,
    TimeType, UserType,
};
use crate::pg::{QualifiedName, display_ident, quote_ident, quote_literal};
use crate::spec::{
    ChunkInterval, DimensionSpec, OnUnsupported, Spec, TableSpec, TargetShape, TimeValue,
    VerifyLevel,
};

/// The shape a table will have on the target.
#[derive(Debug, Clone)]
enum Shape {
    Plain,
    Hypertable {
        time_column: String,
        time_type: TimeType,
        /// `None` takes TimescaleDB's default.
        interval: Option<ChunkInterval>,
        extra: Vec<Extra>,
        time_partitioning_func: Option<String>,
        associated_schema_name: Option<String>,
        associated_table_prefix: Option<String>,
        /// Carried only when the function exists on the target.
        integer_now_func: Option<String>,
    },
}

/// A dimension beyond the primary time dimension.
#[derive(Debug, Clone)]
enum Extra {
    Hash {
        column: String,
        partitions: i16,
        func: Option<String>,
    },
    Range {
        column: String,
        interval: ChunkInterval,
    },
}

/// Build the plan. Every check that can refuse a spec runs here, before any write.
pub fn build(spec: &Spec, inputs: &Inputs) -> Result<Plan, PlanError> {
    let mut b = Builder::default();
    let file = spec.path.display().to_string();
    let fingerprints = super::fingerprint::fingerprints(spec, inputs);
    let source_label = server_label(&spec.source.to_string(), &inputs.source_server);
    let target_label = server_label(&spec.target.to_string(), &inputs.target_server);

    // The same spec, applied from the same source state, completed and verified:
    // the target already holds this move.
    let source_as_a_whole = super::fingerprint::combined(&fingerprints.source);
    if inputs
        .applied
        .iter()
        .any(|(s, src)| *s == fingerprints.spec && *src == source_as_a_whole)
    {
        return Ok(Plan {
            graph: DiGraph::new(),
            tables: Vec::new(),
            warnings: Vec::new(),
            source: source_label,
            target: target_label,
            spec_path: file,
            fingerprints,
            up_to_date: true,
            done: Default::default(),
            resumed: false,
            target_inputs: inputs.target_side_json(),
        });
    }
    let mut early_warnings: Vec<String> = Vec::new();
    // grants: true needs every role it names on the target; name all the missing ones.
    let mut missing_roles: BTreeSet<&str> = BTreeSet::new();
    for g in inputs.grants.iter().flatten() {
        for role in
            std::iter::once(&g.owner).chain(g.grants.iter().filter_map(|(r, _, _)| r.as_ref()))
        {
            if !inputs.target_roles.contains(role) {
                missing_roles.insert(role);
            }
        }
    }
    if !missing_roles.is_empty() {
        return Err(PlanError::Target(format!(
            "grants: true needs these roles on the target, and they do not exist there: {}; create them first",
            missing_roles.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    // Moving a table onto itself would read and write the same rows.
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
    // Decide every table's shape first, so that all refusals come before any step.
    let mut shapes = Vec::with_capacity(inputs.selection.len());
    for (i, (t, table)) in inputs.selection.iter().zip(&inputs.tables).enumerate() {
        if inputs.target_existing.contains(&t.target) {
            return Err(PlanError::table(
                spec,
                t,
                if inputs.stale_run {
                    format!(
                        "{} already exists on the target, from an interrupted run of this spec that began from a different source state (its tables, chunks or columns changed since); a resume would mix two plans, so drop the moved tables and run `hypermove clean` first",
                        t.target
                    )
                } else {
                    format!(
                        "{} already exists on the target; hypermove never writes into an existing table (drop it, or choose another `target:`)",
                        t.target
                    )
                },
            ));
        }
        if let Some(h) = table
            .hypertable
            .as_ref()
            .filter(|_| spec.on_unsupported == OnUnsupported::Warn)
        {
            for feature in &h.unsupported {
                early_warnings.push(format!(
                    "{}: {feature} on the source; not carried over (on_unsupported: warn)",
                    t.source
                ));
            }
        } else if let Some(h) = &table.hypertable {
            if let Some(feature) = h.unsupported.first() {
                return Err(PlanError::table(
                    spec,
                    t,
                    format!(
                        "{feature} on the source; hypermove does not carry it over yet (`on_unsupported: warn` moves every row without it, and lists it in the plan)"
                    ),
                ));
            }
        }
        let shape = shape_of(t, table, inputs).map_err(|m| PlanError::table(spec, t, m))?;
        if let (Shape::Hypertable { time_column, .. }, Some(bounds)) =
            (&shape, inputs.time_bounds[i])
        {
            if bounds.nulls > 0 {
                return Err(PlanError::table(
                    spec,
                    t,
                    format!(
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
                    ),
                ));
            }
        }
        check_readable(table).map_err(|m| PlanError::table(spec, t, m))?;
        check_unique_keys(table, &shape).map_err(|m| PlanError::table(spec, t, m))?;
        check_filters(t, table, &shape).map_err(|m| PlanError::table(spec, t, m))?;
        shapes.push(shape);
    }

    // Names on the target, for foreign keys between moved tables.
    let renamed: HashMap<&QualifiedName, &QualifiedName> = inputs
        .selection
        .iter()
        .map(|t| (&t.source, &t.target))
        .collect();
    for (t, table) in inputs.selection.iter().zip(&inputs.tables) {
        for c in &table.constraints {
            if let ConstraintKind::ForeignKey(fk) = &c.kind {
                if !renamed.contains_key(&fk.ref_table)
                    && !inputs.target_references.contains(&fk.ref_table)
                {
                    return Err(PlanError::table(
                        spec,
                        t,
                        format!(
                            "foreign key {} references {}, which is neither moved nor present on the target; add it to `tables:`",
                            c.name, fk.ref_table
                        ),
                    ));
                }
            }
        }
    }

    let needs_timescaledb = shapes.iter().any(|s| matches!(s, Shape::Hypertable { .. }));

    // Preflight: every privilege the move needs, named at once, before any write.
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
    let ts_schema = inputs
        .target_server
        .timescaledb_schema
        .clone()
        .unwrap_or_else(|| "public".to_string());
    let extension = if needs_timescaledb && inputs.target_server.timescaledb.is_none() {
        if inputs.target_server.timescaledb_available.is_none() {
            return Err(PlanError::Target(format!(
                "the spec asks for hypertables, but TimescaleDB is not installed on the target server ({}); install it, or move the tables as plain tables",
                inputs.target_server.version
            )));
        }
        Some(b.add(
            Step {
                id: "extension:timescaledb".into(),
                kind: StepKind::Extension,
                table: None,
                action: Action::Sql(vec![format!(
                    "CREATE EXTENSION IF NOT EXISTS timescaledb WITH SCHEMA {}",
                    quote_ident(&ts_schema)
                )]),
            },
            &[],
        ))
    } else {
        None
    };

    let mut warnings = early_warnings;
    // Types the columns need, deepest first; their schemas are created like the tables'.
    let mut types: Vec<&UserType> = Vec::new();
    for table in &inputs.tables {
        for ty in &table.types {
            if !types.iter().any(|t| t.name == ty.name) {
                types.push(ty);
            }
        }
    }
    types.sort_by(|a, b| b.depth.cmp(&a.depth).then(a.name.cmp(&b.name)));
    let mut schemas_needed: Vec<&String> =
        inputs.selection.iter().map(|t| &t.target.schema).collect();
    schemas_needed.extend(
        types
            .iter()
            .filter(|t| !inputs.target_types.contains(&t.name))
            .map(|t| &t.name.schema),
    );
    let by_oid: HashMap<u32, &TableSpec> = inputs
        .tables
        .iter()
        .zip(&inputs.selection)
        .map(|(table, t)| (table.oid, t))
        .collect();
    // A view moves when it reads moved tables only, and they keep their names (its
    // text names them); otherwise the plan says why it stays behind.
    let mut views = Vec::new();
    for v in &inputs.views {
        let readers: Vec<&&TableSpec> = v.reads.iter().filter_map(|o| by_oid.get(o)).collect();
        if readers.len() != v.reads.len() {
            warnings.push(format!(
                "view {} reads tables that are not moved; it is not carried over",
                v.name
            ));
        } else if readers.iter().any(|t| t.source != t.target) {
            warnings.push(format!(
                "view {} reads a renamed table; it is not carried over (its text names the old name)",
                v.name
            ));
        } else {
            views.push(v);
        }
    }
    schemas_needed.extend(views.iter().map(|v| &v.name.schema));
    let mut schema_steps: BTreeMap<String, NodeIndex> = BTreeMap::new();
    for schema in schemas_needed {
        if !inputs.target_schemas.contains(schema) && !schema_steps.contains_key(schema) {
            let n = b.add(
                Step {
                    id: format!("schema:{}", display_ident(schema)),
                    kind: StepKind::Schema,
                    table: None,
                    action: Action::Sql(vec![format!(
                        "CREATE SCHEMA IF NOT EXISTS {}",
                        quote_ident(schema)
                    )]),
                },
                &[],
            );
            schema_steps.insert(schema.clone(), n);
        }
    }
    let mut type_steps: Vec<NodeIndex> = Vec::new();
    let mut extensions_done: BTreeSet<&str> = BTreeSet::new();
    for ty in &types {
        if let Some(ext) = &ty.extension {
            match inputs.target_extensions.get(ext) {
                Some((true, _)) => {}
                Some((false, false)) => {
                    return Err(PlanError::Target(format!(
                        "type {} comes from extension {ext}, which the target server does not have; install it there",
                        ty.name
                    )));
                }
                _ => {
                    if extensions_done.insert(ext) {
                        type_steps.push(
                            b.add(
                                Step {
                                    id: format!("extension:{}", display_ident(ext)),
                                    kind: StepKind::Extension,
                                    table: None,
                                    // In the schema it has on the source: its types are
                                    // named there in every column definition.
                                    action: Action::Sql(vec![format!(
                                        "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}",
                                        quote_ident(ext),
                                        quote_ident(&ty.name.schema)
                                    )]),
                                },
                                &schema_steps
                                    .get(&ty.name.schema)
                                    .copied()
                                    .into_iter()
                                    .collect::<Vec<_>>(),
                            ),
                        );
                    }
                }
            }
            continue;
        }
        if inputs.target_types.contains(&ty.name) {
            warnings.push(format!(
                "type {} already exists on the target and is used as it is",
                ty.name
            ));
            continue;
        }
        // Each type waits for the ones before it: deeper types come first.
        let mut deps: Vec<NodeIndex> = type_steps.last().copied().into_iter().collect();
        deps.extend(schema_steps.get(&ty.name.schema));
        type_steps.push(b.add(
            Step {
                id: format!("type:{}", ty.name),
                kind: StepKind::Type,
                table: None,
                action: Action::Sql(vec![create_type_sql(ty)]),
            },
            &deps,
        ));
    }

    // Per table: create, shape, fill, then constrain.
    let mut copies: HashMap<QualifiedName, Vec<NodeIndex>> = HashMap::new();
    let mut keys: HashMap<QualifiedName, Vec<NodeIndex>> = HashMap::new();
    let mut table_plans = Vec::new();
    let mut readies: HashMap<QualifiedName, NodeIndex> = HashMap::new();
    for (table_index, ((t, table), (shape, bounds))) in inputs
        .selection
        .iter()
        .zip(&inputs.tables)
        .zip(shapes.iter().zip(&inputs.time_bounds))
        .enumerate()
    {
        warnings.extend(carry_warnings(t, table, shape));
        let mut deps: Vec<NodeIndex> = schema_steps
            .get(&t.target.schema)
            .copied()
            .into_iter()
            .collect();
        deps.extend(&type_steps);
        let create = b.add(
            Step {
                id: format!("table:{}", t.target),
                kind: StepKind::Table,
                table: Some(t.target.clone()),
                action: Action::Sql(create_table_sql(&t.target, table)),
            },
            &deps,
        );
        let ready_node = match shape {
            Shape::Plain => create,
            Shape::Hypertable { .. } => {
                let mut deps = vec![create];
                deps.extend(extension);
                b.add(
                    Step {
                        id: format!("hypertable:{}", t.target),
                        kind: StepKind::Hypertable,
                        table: Some(t.target.clone()),
                        action: Action::Sql(hypertable_sql(&ts_schema, &t.target, shape)),
                    },
                    &deps,
                )
            }
        };

        let ready = ready_node;
        readies.insert(t.source.clone(), ready);
        let archive = inputs.archive.as_ref().map(|a| &a[table_index]);
        let (windows, ranges) = match archive {
            // Restoring: the windows are the backup's files, cut on the backup's
            // time column whatever the new shape is.
            Some(a) => {
                let windows: Vec<Window> = a
                    .files
                    .iter()
                    .map(|f| Window {
                        lo: f.bounds.lo,
                        hi: f.bounds.hi,
                        relation: Relation::Table(t.source.clone()),
                        ranged: f.bounds.time.is_some(),
                        est_rows: Some(f.rows),
                        est_bytes: f.bytes,
                    })
                    .collect();
                let time = a.files.first().and_then(|f| f.bounds.time.clone());
                let ranges = ranges_on(t, time.as_ref(), &windows);
                (windows, ranges)
            }
            None => {
                let windows = windows_for(spec, t, table, shape, bounds.and_then(|b| b.range));
                let windows = spread_over_target_chunks(windows, shape);
                let ranges = window_ranges(t, table, shape, &windows);
                (windows, ranges)
            }
        };
        let copy_cols: Vec<&str> = table
            .columns
            .iter()
            .filter(|c| c.generated.is_none())
            .map(|c| c.name.as_str())
            .collect();
        let col_list = copy_cols
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let format = if table
            .columns
            .iter()
            .all(|c| c.binary_ok || c.generated.is_some())
        {
            "binary"
        } else {
            "text"
        };
        let time = time_of(table, shape);
        let mut table_copies = Vec::with_capacity(windows.len());
        for (i, (w, r)) in windows.iter().zip(&ranges).enumerate() {
            let action = match archive {
                Some(a) => {
                    let f = &a.files[i];
                    // The files' header decides the column order: columns are
                    // matched by name, whatever order the target table has.
                    let header = a
                        .header
                        .iter()
                        .map(|c| quote_ident(c))
                        .collect::<Vec<_>>()
                        .join(", ");
                    Action::Load(LoadFile {
                        path: f.path.clone(),
                        zstd: f.zstd,
                        target_sql: format!(
                            "COPY {} ({header}) FROM STDIN (FORMAT csv, HEADER true)",
                            t.target.sql()
                        ),
                        rows: f.rows,
                        bytes: f.bytes,
                        sha256: f.sha256.clone(),
                    })
                }
                None => Action::Copy(CopyWindow {
                    source_table: t.source.clone(),
                    source_sql: format!(
                        "COPY (SELECT {col_list} FROM {}) TO STDOUT (FORMAT {format})",
                        r.source_from
                    ),
                    target_sql: format!(
                        "COPY {} ({col_list}) FROM STDIN (FORMAT {format})",
                        t.target.sql()
                    ),
                    est_rows: w.est_rows,
                    est_bytes: w.est_bytes,
                    select_sql: format!("SELECT {col_list} FROM {}", r.source_from),
                    bounds: WindowBounds {
                        time: time.clone().filter(|_| w.ranged),
                        lo: w.lo,
                        hi: w.hi,
                    },
                }),
            };
            let copy = b.add(
                Step {
                    id: format!("copy:{}{}", t.target, r.suffix),
                    kind: StepKind::Copy,
                    table: Some(t.target.clone()),
                    action,
                },
                &[ready],
            );
            table_copies.push(copy);
            let level = match archive {
                // A backup made without checksums can still be counted.
                Some(a) if a.files[i].checksum.is_none() => spec.verify.min(VerifyLevel::Count),
                _ => spec.verify,
            };
            if let Some(mut probe) = probe(level, table, r) {
                if let Some(a) = archive {
                    let f = &a.files[i];
                    probe.recorded = Some(match level {
                        VerifyLevel::Checksum => {
                            vec![f.rows.to_string(), f.checksum.clone().unwrap_or_default()]
                        }
                        _ => vec![f.rows.to_string()],
                    });
                }
                b.add(
                    Step {
                        id: format!("verify:{}{}", t.target, r.suffix),
                        kind: StepKind::Verify,
                        table: Some(t.target.clone()),
                        action: Action::Probe(probe),
                    },
                    &[copy],
                );
            }
        }
        if spec.verify != VerifyLevel::None && needs_total(&windows) {
            let probe = match archive {
                Some(a) => {
                    let time = a.files.first().and_then(|f| f.bounds.time.clone());
                    let mut p = total_probe(t, time.as_ref());
                    p.recorded = Some(vec![
                        a.files.iter().map(|f| f.rows).sum::<u64>().to_string(),
                    ]);
                    p
                }
                None => total_probe(t, time.as_ref()),
            };
            b.add(
                Step {
                    id: total_id(t),
                    kind: StepKind::Verify,
                    table: Some(t.target.clone()),
                    action: Action::Probe(probe),
                },
                &table_copies,
            );
        }

        let mut table_keys = Vec::new();
        for c in &table.constraints {
            if matches!(
                c.kind,
                ConstraintKind::PrimaryKey | ConstraintKind::Unique | ConstraintKind::Exclusion
            ) {
                table_keys.push(b.add(
                    Step {
                        id: format!("constraint:{}.{}", t.target, display_ident(&c.name)),
                        kind: StepKind::Constraint,
                        table: Some(t.target.clone()),
                        action: Action::Sql(vec![format!(
                            "ALTER TABLE {} ADD CONSTRAINT {} {}",
                            t.target.sql(),
                            quote_ident(&c.name),
                            c.definition
                        )]),
                    },
                    &table_copies,
                ));
            }
        }
        if let Some(Some(g)) = inputs.grants.get(table_index) {
            let mut sql = vec![format!(
                "ALTER TABLE {} OWNER TO {}",
                t.target.sql(),
                quote_ident(&g.owner)
            )];
            for (grantee, privilege, grantable) in &g.grants {
                sql.push(format!(
                    "GRANT {privilege} ON {} TO {}{}",
                    t.target.sql(),
                    grantee.as_deref().map_or("PUBLIC".to_string(), quote_ident),
                    if *grantable { " WITH GRANT OPTION" } else { "" }
                ));
            }
            b.add(
                Step {
                    id: format!("grants:{}", t.target),
                    kind: StepKind::Grant,
                    table: Some(t.target.clone()),
                    action: Action::Sql(sql),
                },
                &table_copies,
            );
        }
        // Sequences continue where the source's stand, so new rows never collide.
        for seq in &table.sequences {
            let Some(last) = seq.last_value else { continue };
            b.add(
                Step {
                    id: format!("sequence:{}.{}", t.target, display_ident(&seq.column)),
                    kind: StepKind::Sequence,
                    table: Some(t.target.clone()),
                    action: Action::Sql(vec![format!(
                        "SELECT setval(pg_get_serial_sequence({}, {}), {last}, true)",
                        quote_literal(&t.target.sql()),
                        quote_literal(&seq.column)
                    )]),
                },
                &table_copies,
            );
        }
        for (name, sql) in index_sql(t, table, shape) {
            b.add(
                Step {
                    id: format!(
                        "index:{}",
                        QualifiedName::new(t.target.schema.clone(), name)
                    ),
                    kind: StepKind::Index,
                    table: Some(t.target.clone()),
                    action: Action::Sql(vec![sql]),
                },
                &table_copies,
            );
        }

        let est_rows = windows
            .iter()
            .try_fold(0u64, |acc, w| w.est_rows.map(|r| acc + r));
        table_plans.push(TablePlan {
            source: t.source.clone(),
            target: t.target.clone(),
            before: source_layout(table),
            after: Layout {
                description: describe_shape(shape),
                chunks: None,
                compressed_chunks: 0,
                chunk_interval: match shape {
                    Shape::Plain => None,
                    Shape::Hypertable { interval, .. } => Some(
                        interval
                            .map(|i| i.to_string())
                            .unwrap_or_else(|| "7 days".into()),
                    ),
                },
                hash_partitions: match shape {
                    Shape::Plain => 0,
                    Shape::Hypertable { extra, .. } => extra
                        .iter()
                        .map(|e| match e {
                            Extra::Hash { partitions, .. } => *partitions as u32,
                            Extra::Range { .. } => 0,
                        })
                        .sum(),
                },
            },
            windows: windows.len(),
            est_rows,
            est_bytes: windows.iter().map(|w| w.est_bytes).sum(),
        });
        copies.insert(t.source.clone(), table_copies);
        keys.insert(t.source.clone(), table_keys);
    }

    // Foreign keys last: they need the data of both tables and the referenced key.
    for (t, table) in inputs.selection.iter().zip(&inputs.tables) {
        for c in &table.constraints {
            let ConstraintKind::ForeignKey(fk) = &c.kind else {
                continue;
            };
            let ref_target = renamed.get(&fk.ref_table).copied().unwrap_or(&fk.ref_table);
            let mut deps = copies[&t.source].clone();
            if let Some(ref_copies) = copies.get(&fk.ref_table) {
                deps.extend(ref_copies);
                deps.extend(&keys[&fk.ref_table]);
            }
            b.add(
                Step {
                    id: format!("fk:{}.{}", t.target, display_ident(&c.name)),
                    kind: StepKind::ForeignKey,
                    table: Some(t.target.clone()),
                    action: Action::Sql(vec![fk_sql(
                        &t.target, &c.name, &c.columns, fk, ref_target,
                    )]),
                },
                &deps,
            );
        }
    }

    for v in views {
        let mut deps: Vec<NodeIndex> = v
            .reads
            .iter()
            .filter_map(|o| by_oid.get(o))
            .filter_map(|t| readies.get(&t.source).copied())
            .collect();
        deps.extend(schema_steps.get(&v.name.schema));
        b.add(
            Step {
                id: format!("view:{}", v.name),
                kind: StepKind::View,
                table: None,
                action: Action::Sql(vec![format!(
                    "CREATE VIEW {} AS {}",
                    v.name.sql(),
                    v.definition.trim_end_matches(';')
                )]),
            },
            &deps,
        );
    }

    // The journal may name steps this plan does not have (written by another
    // version of hypermove, or by hand): only the plan's own steps count as done.
    let ids: BTreeSet<&str> = b.graph.node_weights().map(|s| s.id.as_str()).collect();
    // But a copied window this plan does not have means the windows were cut
    // differently when the run began (window sizes changed since): resuming would
    // copy some of its rows a second time.
    let copy_prefix = format!("{}:", StepKind::Copy.label());
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
    let done = inputs
        .resume
        .iter()
        .flatten()
        .filter(|id| ids.contains(id.as_str()))
        .cloned()
        .collect();
    Ok(Plan {
        graph: b.graph,
        tables: table_plans,
        warnings,
        source: source_label,
        target: target_label,
        spec_path: file,
        fingerprints,
        up_to_date: false,
        done,
        resumed: inputs.resume.is_some(),
        target_inputs: inputs.target_side_json(),
    })
}

#[derive(Default)]
struct Builder {
    graph: DiGraph<Step, ()>,
    ids: BTreeSet<String>,
}

impl Builder {
    fn add(&mut self, step: Step, deps: &[NodeIndex]) -> NodeIndex {
        // IDs are derived from names that are unique in their scope, so a clash is a bug.
        assert!(
            self.ids.insert(step.id.clone()),
            "duplicate step id {}",
            step.id
        );
        let n = self.graph.add_node(step);
        for d in deps {
            self.graph.update_edge(*d, n, ());
        }
        n
    }
}

fn server_label(conn: &str, server: &ServerInfo) -> String {
    let version = server.version.split_whitespace().next().unwrap_or("?");
    let conn = if server.tls {
        format!("{conn} over TLS")
    } else {
        conn.to_string()
    };
    match (&server.timescaledb, &server.timescaledb_available) {
        (Some(ts), _) => format!("{conn} (PostgreSQL {version}, TimescaleDB {ts})"),
        (None, Some(ts)) => format!("{conn} (PostgreSQL {version}, TimescaleDB {ts} available)"),
        (None, None) => format!("{conn} (PostgreSQL {version}, no TimescaleDB)"),
    }
}

/// Decide the target shape from the spec, or keep the source's.
fn shape_of(t: &TableSpec, table: &Table, inputs: &Inputs) -> Result<Shape, String> {
    let h = match &t.shape {
        TargetShape::Plain => return Ok(Shape::Plain),
        TargetShape::Keep => {
            return Ok(match &table.hypertable {
                None => Shape::Plain,
                Some(src) => keep_layout(table, src, t.default_chunk_time_interval, inputs)?,
            });
        }
        TargetShape::Hypertable(h) => h,
    };
    let col = table.column(&h.time_column).ok_or_else(|| {
        format!(
            "time_column `{}` is not a column of {}",
            h.time_column, table.name
        )
    })?;
    let time_type = TimeType::from_oid(col.type_oid).ok_or_else(|| {
        format!(
            "time_column `{}` has type {}; a hypertable needs timestamptz, timestamp, date or an integer type",
            h.time_column, col.type_sql
        )
    })?;
    // Without an interval: the spec's default if it fits the column, else the
    // source hypertable's own (on the same column), else TimescaleDB's.
    let fits = |i: &ChunkInterval| {
        matches!(i, ChunkInterval::Integer(_)) == (time_type == TimeType::Integer)
    };
    let interval = h
        .chunk_time_interval
        .or(t.default_chunk_time_interval.filter(fits))
        .or_else(|| {
            let src = table.hypertable.as_ref()?.dimensions.first()?;
            match src.kind {
                DimensionKind::Range { width, integer, .. } if src.column == h.time_column => {
                    Some(if integer {
                        ChunkInterval::Integer(width)
                    } else {
                        ChunkInterval::Time { micros: width }
                    })
                }
                _ => None,
            }
        });
    match (time_type, interval) {
        (TimeType::Integer, Some(ChunkInterval::Time { .. })) => {
            return Err(format!(
                "time_column `{}` is an integer; give chunk_time_interval as an integer in the column's units",
                h.time_column
            ));
        }
        (TimeType::Integer, None) => {
            return Err(format!(
                "time_column `{}` is an integer; chunk_time_interval is required",
                h.time_column
            ));
        }
        (
            TimeType::TimestampTz | TimeType::Timestamp | TimeType::Date,
            Some(ChunkInterval::Integer(_)),
        ) => {
            return Err(format!(
                "time_column `{}` is {}; give chunk_time_interval as an interval such as `7 days`",
                h.time_column, col.type_sql
            ));
        }
        _ => {}
    }
    if h.integer_now_func.is_some() && time_type != TimeType::Integer {
        return Err(format!(
            "integer_now_func applies to integer time columns; `{}` is {}",
            h.time_column, col.type_sql
        ));
    }
    let needs = |f: &Option<String>| -> Result<(), String> {
        match f {
            Some(f) if !inputs.target_functions.contains(f) => Err(format!(
                "function {f} does not exist on the target; create it there first"
            )),
            _ => Ok(()),
        }
    };
    needs(&h.time_partitioning_func)?;
    needs(&h.integer_now_func)?;
    let mut extra = Vec::new();
    for d in &h.dimensions {
        let (column, e) = match d {
            DimensionSpec::Hash {
                column,
                number_partitions,
                partitioning_func,
            } => {
                needs(partitioning_func)?;
                (
                    column,
                    Extra::Hash {
                        column: column.clone(),
                        partitions: *number_partitions,
                        func: partitioning_func.clone(),
                    },
                )
            }
            DimensionSpec::Range {
                column,
                chunk_time_interval,
            } => (
                column,
                Extra::Range {
                    column: column.clone(),
                    interval: *chunk_time_interval,
                },
            ),
        };
        if table.column(column).is_none() {
            return Err(format!(
                "partitioning column `{column}` is not a column of {}",
                table.name
            ));
        }
        if *column == h.time_column {
            return Err(format!(
                "`{column}` is the time_column; it cannot be partitioned again"
            ));
        }
        extra.push(e);
    }
    Ok(Shape::Hypertable {
        time_column: h.time_column.clone(),
        time_type,
        interval,
        extra,
        time_partitioning_func: h.time_partitioning_func.clone(),
        associated_schema_name: h.associated_schema_name.clone(),
        associated_table_prefix: h.associated_table_prefix.clone(),
        integer_now_func: h.integer_now_func.clone(),
    })
}

/// The source hypertable's own layout, dimension for dimension; `interval`, when
/// given (from `defaults:`) and of the column's kind, replaces the primary chunk width.
fn keep_layout(
    table: &Table,
    src: &Hypertable,
    interval: Option<ChunkInterval>,
    inputs: &Inputs,
) -> Result<Shape, String> {
    let mut dims = src.dimensions.iter();
    let first = dims
        .next()
        .ok_or("the source hypertable has no dimensions")?;
    let DimensionKind::Range {
        width,
        integer,
        integer_now_func,
    } = &first.kind
    else {
        return Err("the source hypertable's first dimension is not a range".into());
    };
    let col = table
        .column(&first.column)
        .ok_or_else(|| format!("dimension column `{}` is missing", first.column))?;
    let time_type = TimeType::from_oid(col.type_oid).ok_or_else(|| {
        format!(
            "dimension column `{}` has unsupported type {}",
            first.column, col.type_sql
        )
    })?;
    let own = |width: i64, integer: bool| {
        if integer {
            ChunkInterval::Integer(width)
        } else {
            ChunkInterval::Time { micros: width }
        }
    };
    // A default interval of the other kind (time vs integer) does not apply here.
    let interval = interval
        .filter(|i| matches!(i, ChunkInterval::Integer(_)) == *integer)
        .unwrap_or_else(|| own(*width, *integer));
    let extra = dims
        .map(|d| match &d.kind {
            DimensionKind::Hash { partitions } => Extra::Hash {
                column: d.column.clone(),
                partitions: *partitions,
                func: None,
            },
            DimensionKind::Range { width, integer, .. } => Extra::Range {
                column: d.column.clone(),
                interval: own(*width, *integer),
            },
        })
        .collect();
    Ok(Shape::Hypertable {
        time_column: first.column.clone(),
        time_type,
        interval: Some(interval),
        extra,
        time_partitioning_func: None,
        associated_schema_name: None,
        associated_table_prefix: None,
        // Carried when the target has the function; otherwise the plan warns.
        integer_now_func: integer_now_func
            .clone()
            .filter(|f| inputs.target_functions.contains(f)),
    })
}

/// Order windows so that neighbours land in different target chunks, largest first.
/// When several source chunks feed one target chunk (1-day windows into 7-day
/// chunks), copying consecutive days at once makes every worker insert into the same
/// chunk and queue on its locks; timescaledb-backfill measured this. Round-robin over
/// target chunks keeps parallel windows apart; taking the biggest target chunks, and
/// within each the biggest windows, first keeps a long window from finishing last.
/// The set of windows, and their IDs, do not change.
fn spread_over_target_chunks(windows: Vec<Window>, shape: &Shape) -> Vec<Window> {
    let Shape::Hypertable {
        interval: Some(interval),
        ..
    } = shape
    else {
        return windows;
    };
    let width = interval.width();
    let mut groups: BTreeMap<Option<i64>, Vec<Window>> = BTreeMap::new();
    for w in windows {
        groups
            .entry(w.lo.map(|lo| lo.div_euclid(width)))
            .or_default()
            .push(w);
    }
    let mut groups: Vec<Vec<Window>> = groups.into_values().collect();
    for g in &mut groups {
        // Stable sorts: equal estimates keep time order, so the plan stays deterministic.
        g.sort_by_key(|w| std::cmp::Reverse(w.est_bytes));
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.iter().map(|w| w.est_bytes).sum::<u64>()));
    let mut queues: Vec<std::collections::VecDeque<Window>> =
        groups.into_iter().map(Into::into).collect();
    let mut out = Vec::new();
    while queues.iter().any(|q| !q.is_empty()) {
        for q in &mut queues {
            if let Some(w) = q.pop_front() {
                out.push(w);
            }
        }
    }
    out
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

/// The column a table's windows are cut on, and its type family. A hypertable source
/// is cut on its own primary dimension, the one its chunks' ranges are on, whatever
/// the target partitions by: a range on any other column would leave out the chunk's
/// rows that fall outside it. A plain source is cut on the target's time column.
fn time_of(table: &Table, shape: &Shape) -> Option<(String, TimeType)> {
    if let Some(h) = &table.hypertable {
        let first = h.dimensions.first()?;
        let tt = TimeType::from_oid(table.column(&first.column)?.type_oid)?;
        return Some((first.column.clone(), tt));
    }
    match shape {
        Shape::Hypertable {
            time_column,
            time_type,
            ..
        } => Some((time_column.clone(), *time_type)),
        Shape::Plain => None,
    }
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

/// The copy windows of one table: per source chunk range (or per target chunk
/// width for a plain source), clipped to `from:`/`until:`, and split where the
/// spec's `max_window_rows`/`max_window_bytes` ask for smaller windows.
fn windows_for(
    spec: &Spec,
    t: &TableSpec,
    table: &Table,
    shape: &Shape,
    bounds: Option<(i64, i64)>,
) -> Vec<Window> {
    let windows = if let Some(h) = &table.hypertable {
        let w = window::from_chunks(&t.source, &h.chunks);
        if w.is_empty() {
            // An empty hypertable has no chunks; one window still proves it empty.
            vec![window::whole(&t.source, Some(0), 0)]
        } else {
            w
        }
    } else {
        match shape {
            Shape::Hypertable { interval, .. } => {
                // TimescaleDB's default chunk interval is 7 days.
                let width = interval.map(|i| i.width()).unwrap_or(7 * 86_400_000_000);
                window::aligned(&t.source, bounds, width, table.est_rows, table.est_bytes)
            }
            Shape::Plain => vec![window::whole(&t.source, table.est_rows, table.est_bytes)],
        }
    };
    let value = |v: TimeValue| match v {
        TimeValue::Micros(m) | TimeValue::Int(m) => m,
    };
    let windows = window::clip(windows, t.from.map(value), t.until.map(value));
    window::split(windows, spec.max_window_rows, spec.max_window_bytes)
}

/// Where one window's rows are read. The copy reads the chunk (or table) the window
/// came from; verification never reads that way. It reads the source through the
/// table itself over the window's range, as a user's query would, so a copy that
/// reads too few rows cannot also be the measure of how many there were. The target
/// is read through its table over the same range, so a re-chunked or re-partitioned
/// target is compared correctly.
struct WindowRange {
    /// `:lo..hi` for a ranged window, empty for a whole table; shared by the copy
    /// and verify step IDs.
    suffix: String,
    /// `chunk WHERE …` (or `ONLY table WHERE …`) on the source: what the copy reads.
    source_from: String,
    /// `table WHERE …` on the source: what verification reads.
    verify_from: String,
    /// `target WHERE …` on the target.
    target_from: String,
}

fn window_ranges(
    t: &TableSpec,
    table: &Table,
    shape: &Shape,
    windows: &[Window],
) -> Vec<WindowRange> {
    ranges_on(t, time_of(table, shape).as_ref(), windows)
}

/// Window ranges over a given time column.
fn ranges_on(
    t: &TableSpec,
    time: Option<&(String, TimeType)>,
    windows: &[Window],
) -> Vec<WindowRange> {
    windows
        .iter()
        .map(|w| {
            let suffix = match (&time, w.ranged) {
                (Some((_, tt)), true) => format!(
                    ":{}..{}",
                    window::label(w.lo, *tt, "-inf"),
                    window::label(w.hi, *tt, "+inf")
                ),
                _ => String::new(),
            };
            let predicate = range_predicate(w, time);
            WindowRange {
                suffix,
                source_from: format!("{}{predicate}", w.relation.sql()),
                verify_from: format!("{}{predicate}", t.source.sql()),
                target_from: format!("{}{predicate}", t.target.sql()),
            }
        })
        .collect()
}

/// Whether a table gets a row-total check besides its windows: whenever its windows
/// are ranges, since rows outside every range (a chunk the catalog did not list, rows
/// where no window looked) would escape the per-window checks.
fn needs_total(windows: &[Window]) -> bool {
    windows.len() > 1 || windows.iter().any(|w| w.ranged)
}

/// The row-total check of one table: every row of the source table (within
/// `from:`/`until:`), counted through the table as a user's query would, against
/// every row of the target table.
fn total_probe(t: &TableSpec, time: Option<&(String, TimeType)>) -> Probe {
    let value = |v: TimeValue| match v {
        TimeValue::Micros(m) | TimeValue::Int(m) => m,
    };
    let bounds = Window {
        lo: t.from.map(value),
        hi: t.until.map(value),
        relation: Relation::Table(t.source.clone()),
        ranged: true,
        est_rows: None,
        est_bytes: 0,
    };
    let predicate = range_predicate(&bounds, time);
    Probe {
        level: VerifyLevel::Count,
        table_total: true,
        columns: vec!["rows".to_string()],
        source_sql: format!("SELECT count(*)::text FROM {}{predicate}", t.source.sql()),
        target_sql: format!("SELECT count(*)::text FROM {}{predicate}", t.target.sql()),
        source_rows_sql: None,
        target_rows_sql: None,
        recorded: None,
    }
}

/// The ID of a table's row-total check.
fn total_id(t: &TableSpec) -> String {
    format!("verify:{}{TOTAL_SUFFIX}", t.target)
}

/// How a row-total check's ID ends; no window's range label ends this way.
const TOTAL_SUFFIX: &str = ":total";

/// Whether a verify step ID is a table's row total rather than a window.
pub fn is_table_total(step_id: &str) -> bool {
    step_id.ends_with(TOTAL_SUFFIX)
}

/// The verification queries for one window. The checksum is a sum, over rows, of the
/// first 64 bits of the MD5 of each row's text form: independent of row order and of
/// the physical layout, and computed on each server so no row crosses the network.
/// Text forms are made equal across servers by the session settings in
/// `catalog::SESSION_SETUP` (time zone, date, interval, float and bytea output).
fn probe(level: VerifyLevel, table: &Table, r: &WindowRange) -> Option<Probe> {
    let row = format!(
        "ROW({})::text",
        table
            .columns
            .iter()
            .map(|c| quote_ident(&c.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (columns, select) = match level {
        VerifyLevel::None => return None,
        VerifyLevel::Count => (vec!["rows".to_string()], "count(*)::text".to_string()),
        VerifyLevel::Checksum => (
            vec!["rows".to_string(), "checksum".to_string()],
            format!(
                "count(*)::text, coalesce(sum(('x' || left(md5({row}), 16))::bit(64)::int8::numeric), 0)::text"
            ),
        ),
    };
    // Rows are paired by primary key for --diff; without one, the row is its own key.
    let key = table
        .constraints
        .iter()
        .find(|c| c.kind == ConstraintKind::PrimaryKey)
        .map(|pk| {
            format!(
                "ROW({})::text",
                pk.columns
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .unwrap_or_else(|| row.clone());
    Some(Probe {
        level,
        table_total: false,
        columns,
        source_sql: format!("SELECT {select} FROM {}", r.verify_from),
        target_sql: format!("SELECT {select} FROM {}", r.target_from),
        source_rows_sql: Some(format!("SELECT {key}, {row} FROM {}", r.verify_from)),
        target_rows_sql: Some(format!("SELECT {key}, {row} FROM {}", r.target_from)),
        recorded: None,
    })
}

/// A plan of verification steps only, for `hypermove verify`: the same windows and
/// queries `apply` uses, against a target that already holds the tables.
pub fn build_verification(
    spec: &Spec,
    inputs: &Inputs,
    level: VerifyLevel,
) -> Result<Plan, PlanError> {
    let mut b = Builder::default();
    let mut table_plans = Vec::new();
    for ((t, table), bounds) in inputs
        .selection
        .iter()
        .zip(&inputs.tables)
        .zip(&inputs.time_bounds)
    {
        if !inputs.target_present.contains(&t.target) {
            return Err(PlanError::table(
                spec,
                t,
                format!(
                    "{} does not exist on the target; nothing to verify",
                    t.target
                ),
            ));
        }
        let shape = shape_of(t, table, inputs).map_err(|m| PlanError::table(spec, t, m))?;
        check_readable(table).map_err(|m| PlanError::table(spec, t, m))?;
        let windows = windows_for(spec, t, table, &shape, bounds.and_then(|b| b.range));
        for r in window_ranges(t, table, &shape, &windows) {
            if let Some(probe) = probe(level, table, &r) {
                b.add(
                    Step {
                        id: format!("verify:{}{}", t.target, r.suffix),
                        kind: StepKind::Verify,
                        table: Some(t.target.clone()),
                        action: Action::Probe(probe),
                    },
                    &[],
                );
            }
        }
        if level != VerifyLevel::None && needs_total(&windows) {
            b.add(
                Step {
                    id: total_id(t),
                    kind: StepKind::Verify,
                    table: Some(t.target.clone()),
                    action: Action::Probe(total_probe(t, time_of(table, &shape).as_ref())),
                },
                &[],
            );
        }
        table_plans.push(TablePlan {
            source: t.source.clone(),
            target: t.target.clone(),
            before: source_layout(table),
            after: source_layout(table),
            windows: windows.len(),
            est_rows: windows
                .iter()
                .try_fold(0u64, |acc, w| w.est_rows.map(|r| acc + r)),
            est_bytes: windows.iter().map(|w| w.est_bytes).sum(),
        });
    }
    Ok(Plan {
        graph: b.graph,
        tables: table_plans,
        warnings: Vec::new(),
        source: server_label(&spec.source.to_string(), &inputs.source_server),
        target: server_label(&spec.target.to_string(), &inputs.target_server),
        spec_path: spec.path.display().to_string(),
        fingerprints: super::fingerprint::fingerprints(spec, inputs),
        up_to_date: false,
        done: Default::default(),
        resumed: false,
        target_inputs: inputs.target_side_json(),
    })
}

fn range_predicate(w: &Window, time: Option<&(String, TimeType)>) -> String {
    let Some((column, tt)) = time else {
        return String::new();
    };
    if !w.ranged {
        return String::new();
    }
    let col = quote_ident(column);
    let mut parts = Vec::new();
    if let Some(lo) = w.lo {
        parts.push(format!("{col} >= {}", window::literal(lo, *tt)));
    }
    if let Some(hi) = w.hi {
        parts.push(format!("{col} < {}", window::literal(hi, *tt)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    }
}

/// The options of a sequence, as CREATE SEQUENCE and identity columns write them.
fn sequence_options(seq: &OwnedSequence) -> String {
    format!(
        "INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {}{}",
        seq.increment,
        seq.min,
        seq.max,
        seq.start,
        seq.cache,
        if seq.cycle { " CYCLE" } else { " NO CYCLE" }
    )
}

/// The statements that create a table: its serial sequences, the table with its
/// columns and CHECK constraints, the sequences' ownership, and the comments.
fn create_table_sql(target: &QualifiedName, table: &Table) -> Vec<String> {
    let serial = |column: &str| {
        table
            .sequences
            .iter()
            .find(|s| s.column == column && s.dep == 'a')
            .map(|s| {
                (
                    s,
                    QualifiedName::new(target.schema.clone(), s.name.name.clone()),
                )
            })
    };
    let identity = |column: &str| {
        table
            .sequences
            .iter()
            .find(|s| s.column == column && s.dep == 'i')
    };
    let mut out = Vec::new();
    for seq in table.sequences.iter().filter(|s| s.dep == 'a') {
        let name = QualifiedName::new(target.schema.clone(), seq.name.name.clone());
        out.push(format!(
            "CREATE SEQUENCE {} AS {} {}",
            name.sql(),
            seq.data_type,
            sequence_options(seq)
        ));
    }
    let mut lines: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let mut line = format!("{} {}", quote_ident(&c.name), c.type_sql);
            if let Some(coll) = &c.collation {
                line.push_str(&format!(" COLLATE {coll}"));
            }
            if let Some(expr) = &c.generated {
                let kind = if c.generated_kind == Some('v') {
                    "VIRTUAL"
                } else {
                    "STORED"
                };
                line.push_str(&format!(" GENERATED ALWAYS AS ({expr}) {kind}"));
            } else if let Some(kind) = c.identity {
                let how = if kind == 'a' { "ALWAYS" } else { "BY DEFAULT" };
                match identity(&c.name) {
                    Some(seq) => line.push_str(&format!(
                        " GENERATED {how} AS IDENTITY ({})",
                        sequence_options(seq)
                    )),
                    None => line.push_str(&format!(" GENERATED {how} AS IDENTITY")),
                }
            } else if let Some((_, seq)) = serial(&c.name) {
                // A serial column's default names its own sequence, on the target.
                line.push_str(&format!(
                    " DEFAULT nextval({}::regclass)",
                    quote_literal(&seq.sql())
                ));
            } else if let Some(default) = c.default.as_ref().filter(|d| !uses_sequence(d)) {
                line.push_str(&format!(" DEFAULT {default}"));
            }
            if c.not_null {
                line.push_str(" NOT NULL");
            }
            line
        })
        .collect();
    for c in &table.constraints {
        if c.kind == ConstraintKind::Check {
            lines.push(format!(
                "CONSTRAINT {} {}",
                quote_ident(&c.name),
                c.definition
            ));
        }
    }
    out.push(format!(
        "CREATE TABLE {} (\n    {}\n)",
        target.sql(),
        lines.join(",\n    ")
    ));
    for c in &table.columns {
        if let Some((_, seq)) = serial(&c.name) {
            out.push(format!(
                "ALTER SEQUENCE {} OWNED BY {}.{}",
                seq.sql(),
                target.sql(),
                quote_ident(&c.name)
            ));
        }
    }
    for (column, comment) in &table.comments {
        out.push(match column {
            None => format!(
                "COMMENT ON TABLE {} IS {}",
                target.sql(),
                quote_literal(comment)
            ),
            Some(col) => format!(
                "COMMENT ON COLUMN {}.{} IS {}",
                target.sql(),
                quote_ident(col),
                quote_literal(comment)
            ),
        });
    }
    out
}

/// `CREATE TYPE`/`CREATE DOMAIN` for a user-defined type.
fn create_type_sql(ty: &UserType) -> String {
    match ty.kind {
        'e' => format!(
            "CREATE TYPE {} AS ENUM ({})",
            ty.name.sql(),
            ty.labels
                .iter()
                .map(|l| quote_literal(l))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        'c' => format!(
            "CREATE TYPE {} AS ({})",
            ty.name.sql(),
            ty.attributes.join(", ")
        ),
        _ => {
            let mut sql = format!(
                "CREATE DOMAIN {} AS {}",
                ty.name.sql(),
                ty.base_type.as_deref().unwrap_or("text")
            );
            if let Some(d) = &ty.default {
                sql.push_str(&format!(" DEFAULT {d}"));
            }
            if ty.not_null {
                sql.push_str(" NOT NULL");
            }
            for c in &ty.checks {
                sql.push_str(&format!(" {c}"));
            }
            sql
        }
    }
}

fn uses_sequence(default: &str) -> bool {
    default.contains("nextval(")
}

fn hypertable_sql(ts_schema: &str, target: &QualifiedName, shape: &Shape) -> Vec<String> {
    let Shape::Hypertable {
        time_column,
        interval,
        extra,
        time_partitioning_func,
        associated_schema_name,
        associated_table_prefix,
        integer_now_func,
        ..
    } = shape
    else {
        return Vec::new();
    };
    let ts = quote_ident(ts_schema);
    let rel = format!("{}::regclass", quote_literal(&target.sql()));
    let func = |f: &Option<String>| {
        f.as_ref()
            .map(|f| format!(", partition_func => {}::regproc", quote_literal(f)))
            .unwrap_or_default()
    };
    let by_range =
        |column: &str, interval: Option<ChunkInterval>, f: &Option<String>| match interval {
            Some(i) => format!(
                "{ts}.by_range({}, {}{})",
                quote_literal(column),
                i.sql(),
                func(f)
            ),
            None if f.is_some() => format!(
                "{ts}.by_range({}, partition_func => {}::regproc)",
                quote_literal(column),
                quote_literal(f.as_deref().unwrap_or_default())
            ),
            None => format!("{ts}.by_range({})", quote_literal(column)),
        };
    // Default indexes are off: hypermove builds every index after the data,
    // which is much faster than maintaining them row by row during the load.
    let mut out = if associated_schema_name.is_some() || associated_table_prefix.is_some() {
        // Only the classic signature takes associated_schema_name/associated_table_prefix.
        let mut args = vec![
            rel.clone(),
            format!("time_column_name => {}", quote_literal(time_column)),
        ];
        if let Some(s) = associated_schema_name {
            args.push(format!("associated_schema_name => {}", quote_literal(s)));
        }
        if let Some(p) = associated_table_prefix {
            args.push(format!("associated_table_prefix => {}", quote_literal(p)));
        }
        if let Some(i) = interval {
            args.push(format!("chunk_time_interval => {}", i.sql()));
        }
        if let Some(f) = time_partitioning_func {
            args.push(format!(
                "time_partitioning_func => {}::regproc",
                quote_literal(f)
            ));
        }
        args.push("create_default_indexes => false".into());
        vec![format!(
            "SELECT {ts}.create_hypertable({})",
            args.join(", ")
        )]
    } else {
        vec![format!(
            "SELECT {ts}.create_hypertable({rel}, {}, create_default_indexes => false)",
            by_range(time_column, *interval, time_partitioning_func)
        )]
    };
    for e in extra {
        let dim = match e {
            Extra::Hash {
                column,
                partitions,
                func: f,
            } => format!(
                "{ts}.by_hash({}, {partitions}{})",
                quote_literal(column),
                func(f)
            ),
            Extra::Range { column, interval } => by_range(column, Some(*interval), &None),
        };
        out.push(format!("SELECT {ts}.add_dimension({rel}, {dim})"));
    }
    if let Some(f) = integer_now_func {
        out.push(format!(
            "SELECT {ts}.set_integer_now_func({rel}, {}::regproc)",
            quote_literal(f)
        ));
    }
    out
}

/// The source's indexes, plus the indexes TimescaleDB would have created on a
/// hypertable (`create_default_indexes`): `(time DESC)`, and `(column, time DESC)`
/// per hash dimension, each unless an index already leads with those columns.
fn index_sql(t: &TableSpec, table: &Table, shape: &Shape) -> Vec<(String, String)> {
    let target = &t.target;
    let mut out: Vec<(String, String)> = table
        .indexes
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                format!(
                    "CREATE {}INDEX {} ON {} USING {} {}",
                    if i.unique { "UNIQUE " } else { "" },
                    quote_ident(&i.name),
                    target.sql(),
                    i.method,
                    i.body
                ),
            )
        })
        .collect();
    let Shape::Hypertable {
        time_column, extra, ..
    } = shape
    else {
        return out;
    };
    if !t.create_default_indexes {
        return out;
    }
    let leading: Vec<Vec<String>> = table
        .indexes
        .iter()
        .map(|i| {
            i.key_columns
                .iter()
                .map(|c| c.clone().unwrap_or_default())
                .collect()
        })
        .chain(
            table
                .constraints
                .iter()
                .filter(|c| matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique))
                .map(|c| c.columns.clone()),
        )
        .collect();
    let covered = |cols: &[&str]| {
        leading
            .iter()
            .any(|l| l.len() >= cols.len() && l.iter().zip(cols).all(|(a, b)| a == b))
    };
    let mut wanted: Vec<Vec<&str>> = vec![vec![time_column.as_str()]];
    for e in extra {
        if let Extra::Hash { column, .. } = e {
            wanted.push(vec![column.as_str(), time_column.as_str()]);
        }
    }
    for cols in wanted {
        let name = format!("{}_{}_idx", target.name, cols.join("_"));
        if covered(&cols) || out.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let keys: Vec<String> = cols
            .iter()
            .map(|c| {
                if *c == time_column {
                    format!("{} DESC", quote_ident(c))
                } else {
                    quote_ident(c)
                }
            })
            .collect();
        out.push((
            name.clone(),
            format!(
                "CREATE INDEX {} ON {} USING btree ({})",
                quote_ident(&name),
                target.sql(),
                keys.join(", ")
            ),
        ));
    }
    out
}

fn fk_sql(
    target: &QualifiedName,
    name: &str,
    columns: &[String],
    fk: &ForeignKey,
    ref_target: &QualifiedName,
) -> String {
    let list = |cols: &[String]| {
        cols.iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let action = |c: char| match c {
        'r' => "RESTRICT",
        'c' => "CASCADE",
        'n' => "SET NULL",
        'd' => "SET DEFAULT",
        _ => "NO ACTION",
    };
    let mut sql = format!(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
        target.sql(),
        quote_ident(name),
        list(columns),
        ref_target.sql(),
        list(&fk.ref_columns)
    );
    if fk.match_type == 'f' {
        sql.push_str(" MATCH FULL");
    }
    sql.push_str(&format!(
        " ON UPDATE {} ON DELETE {}",
        action(fk.on_update),
        action(fk.on_delete)
    ));
    if fk.deferrable {
        sql.push_str(" DEFERRABLE");
        if fk.deferred {
            sql.push_str(" INITIALLY DEFERRED");
        }
    }
    sql
}

/// What the plan will not carry, said out loud.
fn carry_warnings(t: &TableSpec, table: &Table, shape: &Shape) -> Vec<String> {
    let mut out = Vec::new();
    for trigger in &table.triggers {
        out.push(format!(
            "{}: trigger {trigger} is not carried over",
            t.source
        ));
    }
    for c in &table.columns {
        let owned = table.sequences.iter().any(|s| s.column == c.name);
        if c.generated.is_none() && !owned && c.default.as_deref().is_some_and(uses_sequence) {
            out.push(format!(
                "{}: column {} default `{}` uses a sequence the column does not own; it is not carried over",
                t.source,
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
    if let Some(h) = &table.hypertable {
        for d in &h.dimensions {
            if let DimensionKind::Range {
                integer_now_func: Some(f),
                ..
            } = &d.kind
            {
                if carried.as_ref() != Some(f) && !matches!(t.shape, TargetShape::Plain) {
                    out.push(format!(
                        "{}: integer_now_func {f} is not carried over (it does not exist on the target)",
                        t.source
                    ));
                }
            }
        }
    }
    out
}

fn source_layout(table: &Table) -> Layout {
    let (chunk_interval, hash_partitions) = match &table.hypertable {
        None => (None, 0),
        Some(h) => {
            let interval = h.dimensions.iter().find_map(|d| match d.kind {
                DimensionKind::Range { width, integer, .. } => Some(if integer {
                    ChunkInterval::Integer(width).to_string()
                } else {
                    ChunkInterval::Time { micros: width }.to_string()
                }),
                DimensionKind::Hash { .. } => None,
            });
            let hash = h
                .dimensions
                .iter()
                .map(|d| match d.kind {
                    DimensionKind::Hash { partitions } => partitions as u32,
                    DimensionKind::Range { .. } => 0,
                })
                .sum();
            (interval, hash)
        }
    };
    Layout {
        description: describe_source(table),
        chunks: table.hypertable.as_ref().map(|h| h.chunks.len()),
        compressed_chunks: table
            .hypertable
            .as_ref()
            .map_or(0, |h| h.chunks.iter().filter(|c| c.compressed).count()),
        chunk_interval,
        hash_partitions,
    }
}

fn describe_source(table: &Table) -> String {
    match &table.hypertable {
        None => "plain table".into(),
        Some(h) => {
            let dims: Vec<String> = h
                .dimensions
                .iter()
                .map(|d| match &d.kind {
                    DimensionKind::Range { width, integer, .. } => {
                        let i = if *integer {
                            ChunkInterval::Integer(*width)
                        } else {
                            ChunkInterval::Time { micros: *width }
                        };
                        format!("{} every {i}", d.column)
                    }
                    DimensionKind::Hash { partitions } => {
                        format!("{} in {partitions} hash partitions", d.column)
                    }
                })
                .collect();
            format!("hypertable: {}", dims.join(", "))
        }
    }
}

fn describe_shape(shape: &Shape) -> String {
    match shape {
        Shape::Plain => "plain table".into(),
        Shape::Hypertable {
            time_column,
            interval,
            extra,
            ..
        } => {
            let mut dims = vec![match interval {
                Some(i) => format!("{time_column} every {i}"),
                None => format!("{time_column} every 7 days (TimescaleDB default)"),
            }];
            for e in extra {
                dims.push(match e {
                    Extra::Hash {
                        column, partitions, ..
                    } => {
                        format!("{column} in {partitions} hash partitions")
                    }
                    Extra::Range { column, interval } => format!("{column} every {interval}"),
                });
            }
            format!("hypertable: {}", dims.join(", "))
        }
    }
}
