//! Assemble the step DAG from a spec and the gathered catalogs. Pure: no I/O here.
//!
//! Every refusal runs first (`preflight`); then the steps are added in a fixed order,
//! which is also the tie-break of `Plan::order`: the TimescaleDB extension, schemas,
//! types, collations and text search configurations, functions, then per table its
//! creation, shape, storage settings, copies and checks, keys, grants, sequences,
//! indexes (each in its tablespace), extended statistics, replica identity, user
//! triggers (after the data, so none fires for a copied row) and row-level security
//! (last of the table, so no policy filters its checks); foreign keys, then views
//! (each after those it reads) and materialized views' refreshes, and the moved
//! schemas' default privileges last.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::graph::{DiGraph, NodeIndex};

use super::copy::WindowSource;
use super::fingerprint::{self, Fingerprints};
use super::functions;
use super::preflight;
use super::probe;
use super::shape::{Shape, source_layout, target_layout, time_of};
use super::standalone;
use super::triggers;
use super::window::{self, Window};
use super::{
    Action, Inputs, Plan, PlanError, Step, StepKind, TablePlan, ddl, security, settings, views,
};
use crate::catalog::{ConstraintKind, ServerInfo, Table, UserFunction, UserType};
use crate::pg::{QualifiedName, display_ident};
use crate::spec::{Spec, TableSpec, VerifyLevel};

mod around;
mod cagg_steps;
mod closure;
mod compression_steps;
mod job_steps;
mod verification;
mod view_steps;

pub use verification::build_verification;

/// Build the plan. Every check that can refuse a spec runs before the first step.
pub fn build(spec: &Spec, inputs: &Inputs) -> Result<Plan, PlanError> {
    let fingerprints = fingerprint::fingerprints(spec, inputs);
    // The same spec, applied from the same source state, completed and verified:
    // the target already holds this move.
    let source_as_a_whole = fingerprint::combined(&fingerprints.source);
    if inputs
        .applied
        .iter()
        .any(|(s, src)| *s == fingerprints.spec && *src == source_as_a_whole)
    {
        let mut plan = plan_shell(spec, inputs, fingerprints);
        plan.up_to_date = true;
        return Ok(plan);
    }
    // Defaults whose sequence cannot be carried lose it here (and are warned about).
    let resolved = standalone::resolve(inputs);
    let inputs: &Inputs = &resolved;
    // Every check runs, and every refusal is said at once.
    let mut refused = Vec::new();
    let checked = preflight::check(spec, inputs).map_err(|e| refused.push(e));
    let types = needed_types(inputs);
    refused.extend(preflight::check_type_extensions(&types, inputs));
    // Views that call TimescaleDB need it on the target (a refused plan goes no further).
    let needs_timescaledb = checked.as_ref().map_or(true, |c| {
        c.shapes
            .iter()
            .any(|s| matches!(s, Shape::Hypertable { .. }))
    });
    let caggs = super::caggs::resolve(spec, inputs).map_err(|e| refused.push(e));
    let moved_caggs = caggs.as_ref().map(|c| c.by_oid()).unwrap_or_default();
    let views = views::resolve(spec, inputs, &types, needs_timescaledb, &moved_caggs)
        .map_err(|e| refused.push(e));
    let mut view_functions: Vec<&UserFunction> = views
        .as_ref()
        .map(|v| v.functions().collect())
        .unwrap_or_default();
    // The user jobs that move bring their procedures (those left behind do not).
    let jobs = super::jobs::decide(spec, inputs).map_err(|e| refused.push(e));
    if let Ok(d) = &jobs {
        view_functions.extend(d.user_jobs.iter().flat_map(|j| &j.job.functions));
    }
    let functions = functions::needed(inputs, view_functions.into_iter());
    let function_warnings = functions::check(spec, inputs, &functions).map_err(|e| refused.push(e));
    refused.extend(standalone::check(inputs).err());
    let closure_warnings = super::closure::check(spec, inputs).map_err(|e| refused.push(e));
    if let Some(e) = PlanError::collected(refused) {
        return Err(e);
    }
    let (Ok(checked), Ok(function_warnings), Ok(views), Ok(closure_warnings), Ok(jobs), Ok(caggs)) = (
        checked,
        function_warnings,
        views,
        closure_warnings,
        jobs,
        caggs,
    ) else {
        unreachable!("a failed check is among the refusals");
    };

    let mut a = Assembly::new(spec, inputs, checked.warnings);
    a.compressions = checked.compressions;
    a.warnings.extend(closure_warnings);
    a.add_timescaledb(needs_timescaledb);
    a.warnings.extend(views.warnings.iter().cloned());
    a.add_schemas(&types, &views.placed);
    a.add_types(&types);
    a.add_collations_and_text_search();
    a.add_functions(&functions, function_warnings);
    a.add_late_domain_checks(&types);
    a.add_default_sequences();
    for (i, shape) in checked.shapes.iter().enumerate() {
        a.add_table(i, shape);
    }
    a.add_default_sequence_values();
    a.add_fks();
    if petgraph::algo::is_cyclic_directed(&a.b.graph) {
        return Err(PlanError::Target(
            "foreign keys between tables compressed as they fill form a cycle: such keys are added before the data, after the table they reference is loaded; give one of the tables `compression: {enabled: false}`".into(),
        ));
    }
    a.warnings.extend(caggs.warnings.iter().cloned());
    a.add_caggs(&caggs.placed);
    a.add_views(&views.placed);
    a.add_default_privileges();
    // Jobs last: after every table, view and aggregate they act on.
    a.warnings.extend(super::jobs::source_warnings(inputs));
    a.warnings.extend(jobs.warnings.iter().cloned());
    let cagg_policies = a.add_jobs(&jobs)?;
    a.add_enable_jobs(&jobs, &cagg_policies);

    let ids: BTreeSet<&str> = a.b.graph.node_weights().map(|s| s.id.as_str()).collect();
    let done = preflight::check_resume(inputs, &ids)?;
    let mut plan = plan_shell(spec, inputs, fingerprints);
    plan.graph = a.b.graph;
    plan.tables = a.table_plans;
    plan.warnings = a.warnings;
    plan.done = done;
    plan.resumed = inputs.resume.is_some();
    Ok(plan)
}

/// A plan with no steps yet, and what every plan says about where it came from.
fn plan_shell(spec: &Spec, inputs: &Inputs, fingerprints: Fingerprints) -> Plan {
    Plan {
        graph: DiGraph::new(),
        tables: Vec::new(),
        warnings: Vec::new(),
        source: server_label(&spec.source.to_string(), &inputs.source_server),
        target: server_label(&spec.target.to_string(), &inputs.target_server),
        spec_path: spec.path.display().to_string(),
        fingerprints,
        up_to_date: false,
        done: Default::default(),
        resumed: false,
        target_inputs: inputs.target_side_json(),
    }
}

/// Types the columns need, deepest first (a domain over an enum after the enum).
fn needed_types(inputs: &Inputs) -> Vec<&UserType> {
    let mut types: Vec<&UserType> = Vec::new();
    for table in &inputs.tables {
        for ty in &table.types {
            if !types.iter().any(|t| t.name == ty.name) {
                types.push(ty);
            }
        }
    }
    types.sort_by(|a, b| b.depth.cmp(&a.depth).then(a.name.cmp(&b.name)));
    types
}

/// Estimated rows over all windows; unknown when any window's is.
fn est_rows(windows: &[Window]) -> Option<u64> {
    windows
        .iter()
        .try_fold(0u64, |acc, w| w.est_rows.map(|r| acc + r))
}

/// The plan while its steps are added, with the nodes later steps wait for.
struct Assembly<'a> {
    spec: &'a Spec,
    inputs: &'a Inputs,
    b: Builder,
    warnings: Vec<String>,
    /// The schema TimescaleDB's functions are called in.
    ts_schema: String,
    /// `CREATE EXTENSION timescaledb`, when the target lacks it.
    extension: Option<NodeIndex>,
    /// `CREATE SCHEMA` per schema the target lacks.
    schema_steps: BTreeMap<String, NodeIndex>,
    /// Types (and the extensions they come from), collations and text search
    /// configurations: what column definitions name, in creation order.
    type_steps: Vec<NodeIndex>,
    /// User functions the tables call, in creation order.
    function_steps: Vec<NodeIndex>,
    /// `CREATE SEQUENCE` per sequence the defaults draw from that no column owns.
    default_sequence_steps: BTreeMap<QualifiedName, NodeIndex>,
    /// Per source table: the step after which it can take rows (and views).
    readies: HashMap<QualifiedName, NodeIndex>,
    /// Per source table: its copy steps.
    copies: HashMap<QualifiedName, Vec<NodeIndex>>,
    /// Per source table: its key constraint steps.
    keys: HashMap<QualifiedName, Vec<NodeIndex>>,
    /// Per view, by source OID: its creation step, and its refresh step if any.
    view_steps: HashMap<u32, (NodeIndex, Option<NodeIndex>)>,
    table_plans: Vec<TablePlan>,
    /// Per selected table: its compression and policies on the target.
    compressions: Vec<super::compression::Decision>,
    /// Per source table: its `compress:` steps, which its keys wait for.
    compress_steps: HashMap<QualifiedName, Vec<NodeIndex>>,
}

impl<'a> Assembly<'a> {
    fn new(spec: &'a Spec, inputs: &'a Inputs, warnings: Vec<String>) -> Self {
        Assembly {
            spec,
            inputs,
            b: Builder::default(),
            warnings,
            ts_schema: inputs
                .target_server
                .timescaledb_schema
                .clone()
                .unwrap_or_else(|| "public".to_string()),
            extension: None,
            schema_steps: BTreeMap::new(),
            type_steps: Vec::new(),
            function_steps: Vec::new(),
            default_sequence_steps: BTreeMap::new(),
            readies: HashMap::new(),
            copies: HashMap::new(),
            keys: HashMap::new(),
            view_steps: HashMap::new(),
            table_plans: Vec::new(),
            compressions: Vec::new(),
            compress_steps: HashMap::new(),
        }
    }

    /// `CREATE EXTENSION timescaledb` when hypertables need it and the target lacks
    /// it (preflight has made sure it is available and may be created).
    fn add_timescaledb(&mut self, needs_timescaledb: bool) {
        if needs_timescaledb && self.inputs.target_server.timescaledb.is_none() {
            self.extension = Some(self.b.add(
                Step {
                    id: "extension:timescaledb".into(),
                    kind: StepKind::Extension,
                    table: None,
                    action: Action::Sql(vec![ddl::timescaledb_sql(&self.ts_schema)]),
                },
                &[],
            ));
        }
    }

    /// `CREATE SCHEMA` for every schema the tables, the new types and the views
    /// need that the target lacks.
    fn add_schemas(&mut self, types: &[&UserType], views: &[views::Placed<'_>]) {
        let inputs = self.inputs;
        let mut schemas_needed: Vec<&String> =
            inputs.selection.iter().map(|t| &t.target.schema).collect();
        schemas_needed.extend(
            types
                .iter()
                .filter(|t| !inputs.target_types.contains(&t.name))
                .map(|t| &t.name.schema),
        );
        schemas_needed.extend(views.iter().map(|v| &v.target.schema));
        for schema in schemas_needed {
            if !inputs.target_schemas.contains(schema) && !self.schema_steps.contains_key(schema) {
                let n = self.b.add(
                    Step {
                        id: format!("schema:{}", display_ident(schema)),
                        kind: StepKind::Schema,
                        table: None,
                        action: Action::Sql(vec![ddl::schema_sql(schema)]),
                    },
                    &[],
                );
                self.schema_steps.insert(schema.clone(), n);
            }
        }
    }

    /// The schema's creation step, if the plan has one, as a dependency list.
    fn schema_dep(&self, schema: &str) -> Vec<NodeIndex> {
        self.schema_steps.get(schema).copied().into_iter().collect()
    }

    /// Types the target lacks, each after the ones before it; a type that comes
    /// from an extension brings the extension instead.
    fn add_types(&mut self, types: &[&UserType]) {
        let mut extensions_done: BTreeSet<&str> = BTreeSet::new();
        for ty in types {
            if let Some(ext) = &ty.extension {
                // Installed: nothing to do; preflight refused the unavailable ones.
                if !matches!(self.inputs.target_extensions.get(ext), Some((true, _)))
                    && extensions_done.insert(ext)
                {
                    let deps = self.schema_dep(&ty.name.schema);
                    let n = self.b.add(
                        Step {
                            id: format!("extension:{}", display_ident(ext)),
                            kind: StepKind::Extension,
                            table: None,
                            // In the schema it has on the source: its types are
                            // named there in every column definition.
                            action: Action::Sql(vec![ddl::extension_sql(ext, &ty.name.schema)]),
                        },
                        &deps,
                    );
                    self.type_steps.push(n);
                }
                continue;
            }
            if self.inputs.target_types.contains(&ty.name) {
                self.warnings.push(format!(
                    "type {} already exists on the target and is used as it is",
                    ty.name
                ));
                continue;
            }
            // Each type waits for the ones before it: deeper types come first.
            let mut deps: Vec<NodeIndex> = self.type_steps.last().copied().into_iter().collect();
            deps.extend(self.schema_steps.get(&ty.name.schema));
            let n = self.b.add(
                Step {
                    id: format!("type:{}", ty.name),
                    kind: StepKind::Type,
                    table: None,
                    action: Action::Sql(vec![ddl::create_type_sql(ty)]),
                },
                &deps,
            );
            self.type_steps.push(n);
        }
    }

    /// `CREATE SCHEMA` for a schema the target lacks, unless the plan has it already
    /// (for the functions and sequences the tables need, which keep their source schemas).
    fn add_schema_step(&mut self, schema: &str) {
        if self.inputs.target_schemas.contains(schema) || self.schema_steps.contains_key(schema) {
            return;
        }
        let n = self.b.add(
            Step {
                id: format!("schema:{}", display_ident(schema)),
                kind: StepKind::Schema,
                table: None,
                action: Action::Sql(vec![ddl::schema_sql(schema)]),
            },
            &[],
        );
        self.schema_steps.insert(schema.to_string(), n);
    }

    /// One table: create, shape, fill, then constrain.
    fn add_table(&mut self, index: usize, shape: &Shape) {
        let inputs = self.inputs;
        let t = &inputs.selection[index];
        let table = &inputs.tables[index];
        let ready = self.add_create(t, table, shape);
        let ready = self.add_settings(t, table, ready);
        let compressed = self.compressions[index].compression.is_some();
        let ready = self.add_compression_settings(index, ready);
        self.readies.insert(t.source.clone(), ready);
        let after_create = self.b.graph.node_count();
        let source = WindowSource::of(inputs.archive.as_deref(), index);
        let (windows, table_copies, checks) =
            self.add_windows(index, shape, source, ready, !compressed);
        // A table compressed as it fills gets its keys and indexes once its slices are
        // compressed too: building them while compress_chunk rewrites chunks would make
        // the two wait on each other's locks, and keeping them during the load would
        // maintain every row's index entries only for compress_chunk to discard them.
        let compress_steps =
            self.add_compress_steps(index, shape, &windows, &table_copies, &checks);
        let mut after_data = table_copies.clone();
        after_data.extend(&compress_steps);
        self.compress_steps.insert(t.source.clone(), compress_steps);
        let table_keys = self.add_constraints(t, table, &after_data);
        if let Some(Some(g)) = inputs.grants.get(index) {
            self.b.add(
                Step {
                    id: format!("grants:{}", t.target),
                    kind: StepKind::Grant,
                    table: Some(t.target.clone()),
                    action: Action::Sql(super::grants::grants_sql(&t.target, g)),
                },
                &table_copies,
            );
        }
        self.add_sequences(t, table, &table_copies);
        self.add_indexes(t, table, shape, &after_data);
        self.place_in_tablespaces(index);
        self.add_statistics(t, table, &table_copies);
        self.add_replica_identity(t, table, after_create);
        self.add_triggers(t, table, shape, after_create);
        self.add_row_security(t, table, after_create);
        self.add_policies(index, after_create);
        self.table_plans.push(TablePlan {
            source: t.source.clone(),
            target: t.target.clone(),
            before: source_layout(table),
            after: target_layout(shape),
            windows: windows.len(),
            est_rows: est_rows(&windows),
            est_bytes: windows.iter().map(|w| w.est_bytes).sum(),
            compression: super::compression::describe(table, &self.compressions[index]),
        });
        self.copies.insert(t.source.clone(), table_copies);
        self.keys.insert(t.source.clone(), table_keys);
    }

    /// `CREATE TABLE`, then `create_hypertable` for a hypertable target; returns
    /// the step after which the table can take rows.
    fn add_create(&mut self, t: &TableSpec, table: &Table, shape: &Shape) -> NodeIndex {
        let mut deps = self.schema_dep(&t.target.schema);
        deps.extend(&self.type_steps);
        // CHECKs and defaults name their functions: those exist before the table.
        deps.extend(&self.function_steps);
        // And their sequences.
        deps.extend(
            table
                .default_sequences
                .iter()
                .filter_map(|s| self.default_sequence_steps.get(&s.name)),
        );
        let create = self.b.add(
            Step {
                id: format!("table:{}", t.target),
                kind: StepKind::Table,
                table: Some(t.target.clone()),
                action: Action::Sql(ddl::create_table_sql(&t.target, table)),
            },
            &deps,
        );
        match shape {
            Shape::Plain => create,
            Shape::Hypertable { .. } => {
                let mut deps = vec![create];
                deps.extend(self.extension);
                self.b.add(
                    Step {
                        id: format!("hypertable:{}", t.target),
                        kind: StepKind::Hypertable,
                        table: Some(t.target.clone()),
                        action: Action::Sql(ddl::hypertable_sql(&self.ts_schema, &t.target, shape)),
                    },
                    &deps,
                )
            }
        }
    }

    /// A copy step per window, each followed by its check, and the table's row-total
    /// check after all of them; returns the windows and their copy steps.
    fn add_windows(
        &mut self,
        index: usize,
        shape: &Shape,
        source: WindowSource<'_>,
        ready: NodeIndex,
        spread: bool,
    ) -> (Vec<Window>, Vec<NodeIndex>, Vec<NodeIndex>) {
        let t = &self.inputs.selection[index];
        let table = &self.inputs.tables[index];
        let bounds = self.inputs.time_bounds[index];
        let (windows, ranges) = source.windows(self.spec, t, table, shape, bounds, spread);
        let actions = source.copy_actions(t, table, shape, &windows, &ranges);
        let mut table_copies = Vec::with_capacity(windows.len());
        // Per window its check (when verified), then the table's row total.
        let mut checks = Vec::with_capacity(windows.len() + 1);
        // A large plain table copied whole is checked range by range of its key.
        let key_ranges = probe::key_ranges(t, table, &windows, self.inputs.key_ranges[index]);
        for (i, (action, r)) in actions.into_iter().zip(&ranges).enumerate() {
            let copy = self.b.add(
                Step {
                    id: format!("copy:{}{}", t.target, r.suffix),
                    kind: StepKind::Copy,
                    table: Some(t.target.clone()),
                    action,
                },
                &[ready],
            );
            table_copies.push(copy);
            // Each check after its copy: the window's own, or the key ranges'.
            let window_checks: Vec<(String, super::Probe)> = match &key_ranges {
                Some(key_ranges) => key_ranges
                    .iter()
                    .filter_map(|r| {
                        probe::probe(self.spec.verify, table, r).map(|p| (r.suffix.clone(), p))
                    })
                    .collect(),
                None => source
                    .window_probe(i, self.spec.verify, table, r)
                    .map(|mut p| {
                        // The copy keeps the hash of the rows it streamed: the check
                        // reads the target only (plan/probe.rs says why the source
                        // is counted too).
                        if p.rows_read.is_some() {
                            let copy_step = format!("copy:{}{}", t.target, r.suffix);
                            p.rows_read = Some(probe::rows_copied(table, r, copy_step));
                        }
                        (r.suffix.clone(), p)
                    })
                    .into_iter()
                    .collect(),
            };
            for (suffix, probe) in window_checks {
                checks.push(self.b.add(
                    Step {
                        id: format!("verify:{}{suffix}", t.target),
                        kind: StepKind::Verify,
                        table: Some(t.target.clone()),
                        action: Action::Probe(probe),
                    },
                    &[copy],
                ));
            }
        }
        if self.spec.verify != VerifyLevel::None && probe::needs_total(&windows) {
            checks.push(self.b.add(
                Step {
                    id: probe::total_id(t),
                    kind: StepKind::Verify,
                    table: Some(t.target.clone()),
                    action: Action::Probe(source.total_probe(t, table, shape)),
                },
                &table_copies,
            ));
        }
        (windows, table_copies, checks)
    }

    /// Primary key, unique and exclusion constraints, once the data is in.
    fn add_constraints(
        &mut self,
        t: &TableSpec,
        table: &Table,
        table_copies: &[NodeIndex],
    ) -> Vec<NodeIndex> {
        let mut table_keys = Vec::new();
        for c in &table.constraints {
            if matches!(
                c.kind,
                ConstraintKind::PrimaryKey | ConstraintKind::Unique | ConstraintKind::Exclusion
            ) {
                table_keys.push(self.b.add(
                    Step {
                        id: format!("constraint:{}.{}", t.target, display_ident(&c.name)),
                        kind: StepKind::Constraint,
                        table: Some(t.target.clone()),
                        action: Action::Sql(vec![ddl::key_constraint_sql(&t.target, c)]),
                    },
                    table_copies,
                ));
            }
        }
        table_keys
    }

    /// Sequences continue where the source's stand, so new rows never collide.
    fn add_sequences(&mut self, t: &TableSpec, table: &Table, table_copies: &[NodeIndex]) {
        for seq in &table.sequences {
            let Some(last) = seq.last_value else { continue };
            self.b.add(
                Step {
                    id: format!("sequence:{}.{}", t.target, display_ident(&seq.column)),
                    kind: StepKind::Sequence,
                    table: Some(t.target.clone()),
                    action: Action::Sql(vec![ddl::setval_sql(&t.target, &seq.column, last)]),
                },
                table_copies,
            );
        }
    }

    /// Secondary indexes, built once the data is in.
    fn add_indexes(
        &mut self,
        t: &TableSpec,
        table: &Table,
        shape: &Shape,
        table_copies: &[NodeIndex],
    ) -> Vec<NodeIndex> {
        let mut out = Vec::new();
        for (name, sql) in ddl::index_sql(t, table, shape) {
            out.push(self.b.add(
                Step {
                    id: format!(
                        "index:{}",
                        QualifiedName::new(t.target.schema.clone(), name)
                    ),
                    kind: StepKind::Index,
                    table: Some(t.target.clone()),
                    action: Action::Sql(vec![sql]),
                },
                table_copies,
            ));
        }
        out
    }

    /// Foreign keys last: they need the data of both tables and the referenced key.
    fn add_fks(&mut self) {
        let renamed = preflight::renamed(self.inputs);
        for (t, c, fk) in preflight::foreign_keys(self.inputs) {
            let ref_target = renamed.get(&fk.ref_table).copied().unwrap_or(&fk.ref_table);
            // Before TimescaleDB 2.20 a foreign key cannot be added to a hypertable
            // with compressed chunks: a table compressed as it fills then gets its
            // foreign keys before its data, once the table it references is loaded.
            let early = self.compressed(&t.source)
                && !super::compression::foreign_keys_on_compressed(self.inputs);
            let mut deps = if early {
                vec![self.readies[&t.source]]
            } else {
                let mut d = self.copies[&t.source].clone();
                d.extend(self.compress_steps.get(&t.source).into_iter().flatten());
                d
            };
            if let Some(ref_copies) = self.copies.get(&fk.ref_table) {
                deps.extend(ref_copies);
                deps.extend(&self.keys[&fk.ref_table]);
            }
            let fk_step = self.b.add(
                Step {
                    id: format!("fk:{}.{}", t.target, display_ident(&c.name)),
                    kind: StepKind::ForeignKey,
                    table: Some(t.target.clone()),
                    action: Action::Sql(vec![ddl::fk_sql(
                        &t.target, &c.name, &c.columns, fk, ref_target,
                    )]),
                },
                &deps,
            );
            if early {
                for copy in &self.copies[&t.source] {
                    self.b.graph.update_edge(fk_step, *copy, ());
                }
            }
        }
    }
}

/// The graph under construction, with the IDs it holds.
#[derive(Default)]
struct Builder {
    graph: DiGraph<Step, ()>,
    ids: BTreeSet<String>,
}

impl Builder {
    /// The step with this ID, if the plan has it.
    fn find(&self, id: &str) -> Option<NodeIndex> {
        self.graph.node_indices().find(|n| self.graph[*n].id == id)
    }

    /// Add a step that waits for `deps`.
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

/// `user@host:port/db (PostgreSQL 17, TimescaleDB 2.x)`, for the plan's header.
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
