//! Read everything a plan depends on, from both servers, before anything is decided.

use std::collections::BTreeSet;

use tokio_postgres::GenericClient;

use super::PlanError;
use crate::catalog::{self, CatalogError, ConstraintKind, ServerInfo, Table, TimeBounds, TimeType};
use crate::pg::{QualifiedName, Role};
use crate::spec::{DimensionSpec, Origin, Spec, TableSpec, TargetShape};

mod objects;
mod target;

pub use objects::TargetObjects;
pub use target::gather_target;

/// The catalog facts a plan is built from. Building from these is pure, so the
/// same inputs always give the same plan.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Source server facts.
    pub source_server: ServerInfo,
    /// Target server facts.
    pub target_server: ServerInfo,
    /// The tables to move: the spec's own entries, then those `include:` selected.
    pub selection: Vec<TableSpec>,
    /// One source table per selected entry, in the same order.
    pub tables: Vec<Table>,
    /// For a plain source that becomes a hypertable: the range of its time column.
    pub time_bounds: Vec<Option<TimeBounds>>,
    /// For a plain table that stays plain, with a one-column integer primary key:
    /// the key's range, over which its verification is cut. Not part of any
    /// fingerprint: it moves with every insert and decides no copy.
    pub key_ranges: Vec<Option<(i64, i64)>>,
    /// Target tables named by the selection that already exist on the target (for a
    /// resumed run: those that existed when it began).
    pub target_existing: BTreeSet<QualifiedName>,
    /// Target tables named by the selection that exist on the target now, whatever
    /// a resumed run recorded; what `verify` reads.
    pub target_present: BTreeSet<QualifiedName>,
    /// Schemas that exist on the target (only those the plan asked about).
    pub target_schemas: BTreeSet<String>,
    /// Tables referenced by foreign keys, not moved, that exist on the target.
    pub target_references: BTreeSet<QualifiedName>,
    /// Functions named by the spec or the source's dimensions that exist on the target.
    pub target_functions: BTreeSet<String>,
    /// User-defined types the tables need that already exist on the target.
    pub target_types: BTreeSet<QualifiedName>,
    /// Sequences the tables' defaults draw from (no column owns them) that already
    /// exist on the target.
    pub target_sequences: BTreeSet<QualifiedName>,
    /// Names the plan needs on the target that a relation or statistics object
    /// already holds there: of the indexes and statistics objects it would create,
    /// of the views it would create, and the source names the relations views read
    /// take for a moment (see `plan::views`).
    pub target_names_taken: BTreeSet<QualifiedName>,
    /// User functions the tables need that already exist on the target: signature
    /// (`schema.name(args)`) → the target's definition (`pg_get_functiondef`).
    pub target_function_defs: std::collections::BTreeMap<String, String>,
    /// Plain and materialized views over the moved tables (directly or through
    /// other views), on the source.
    pub views: Vec<catalog::View>,
    /// Owners and grants per table, when the spec says `grants: true`.
    pub grants: Vec<Option<catalog::Grants>>,
    /// Owners and grants per table when the spec does not carry them (`grants` unset or
    /// false): what a move leaves behind, refused or listed by name.
    pub grants_left: Vec<Option<catalog::Grants>>,
    /// Roles those grants name that exist on the target.
    pub target_roles: BTreeSet<String>,
    /// The target's side of the collations, text search configurations, tablespaces
    /// and database-wide default privileges around the tables.
    pub target_objects: TargetObjects,
    /// What the source role may read.
    pub source_privileges: catalog::Privileges,
    /// What the target role may create.
    pub target_privileges: catalog::Privileges,
    /// Extensions the tables' types come from: name → (installed, available) on the target.
    pub target_extensions: std::collections::BTreeMap<String, (bool, bool)>,
    /// Moves the target records as complete: (spec fingerprint, source fingerprint).
    pub applied: Vec<(String, String)>,
    /// Resuming an interrupted run of this spec from this source state: the steps it
    /// finished. The target facts above are then those recorded when it began.
    pub resume: Option<BTreeSet<String>>,
    /// An unfinished run of this spec began from a different source state.
    pub stale_run: bool,
    /// When the source is a backup directory: per selected table, its files. The
    /// copy windows are then the files, loaded instead of copied.
    pub archive: Option<Vec<super::ArchiveTable>>,
}

/// The target side of [`Inputs`], kept in the journal when a run begins, so that a
/// resumed run rebuilds exactly the plan the interrupted one ran.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TargetSide {
    /// Target server facts.
    pub target_server: ServerInfo,
    /// Target tables of the selection that existed.
    pub target_existing: BTreeSet<QualifiedName>,
    /// Target schemas that existed.
    pub target_schemas: BTreeSet<String>,
    /// Referenced tables present on the target.
    pub target_references: BTreeSet<QualifiedName>,
    /// Functions present on the target.
    pub target_functions: BTreeSet<String>,
    /// Types present on the target.
    #[serde(default)]
    pub target_types: BTreeSet<QualifiedName>,
    /// Sequences the defaults draw from present on the target.
    #[serde(default)]
    pub target_sequences: BTreeSet<QualifiedName>,
    /// Names the plan needs (indexes, statistics objects, views) that were taken.
    #[serde(default)]
    pub target_names_taken: BTreeSet<QualifiedName>,
    /// Functions the tables need present on the target, with their definitions.
    #[serde(default)]
    pub target_function_defs: std::collections::BTreeMap<String, String>,
    /// Extensions' state on the target.
    #[serde(default)]
    pub target_extensions: std::collections::BTreeMap<String, (bool, bool)>,
    /// Roles present on the target.
    #[serde(default)]
    pub target_roles: BTreeSet<String>,
    /// Collations, text search configurations, tablespaces and default privileges
    /// on the target.
    #[serde(default)]
    pub target_objects: TargetObjects,
}

impl Inputs {
    /// The target side, as JSON for the journal.
    pub fn target_side_json(&self) -> String {
        serde_json::to_string(&TargetSide {
            target_server: self.target_server.clone(),
            target_existing: self.target_existing.clone(),
            target_schemas: self.target_schemas.clone(),
            target_references: self.target_references.clone(),
            target_functions: self.target_functions.clone(),
            target_types: self.target_types.clone(),
            target_function_defs: self.target_function_defs.clone(),
            target_sequences: self.target_sequences.clone(),
            target_names_taken: self.target_names_taken.clone(),
            target_extensions: self.target_extensions.clone(),
            target_roles: self.target_roles.clone(),
            target_objects: self.target_objects.clone(),
        })
        .expect("target facts serialize")
    }
}

/// The spec's tables, plus every source table its `include:` patterns select
/// (minus `exclude:`), each with the spec's defaults.
pub async fn select(
    spec: &Spec,
    source: &impl GenericClient,
) -> Result<Vec<TableSpec>, CatalogError> {
    if spec.include.is_empty() {
        return Ok(spec.tables.clone());
    }
    Ok(select_from(spec, catalog::list_tables(source).await?))
}

/// The spec's tables, plus every name of `available` its `include:` patterns
/// select (minus `exclude:`), each with the spec's defaults. `restore` passes the
/// tables of a backup here; `plan` and `apply` the tables of the source.
pub fn select_from(spec: &Spec, available: Vec<QualifiedName>) -> Vec<TableSpec> {
    let mut selection = spec.tables.clone();
    if spec.include.is_empty() {
        return selection;
    }
    let named: BTreeSet<QualifiedName> = spec.tables.iter().map(|t| t.source.clone()).collect();
    for name in available {
        if named.contains(&name) || spec.exclude.iter().any(|p| p.matches(&name)) {
            continue;
        }
        let Some(pattern) = spec.include.iter().find(|p| p.matches(&name)) else {
            continue;
        };
        let schema = spec.schema_map.get(&name.schema).unwrap_or(&name.schema);
        selection.push(TableSpec {
            target: QualifiedName::new(schema.clone(), name.name.clone()),
            source: name,
            shape: TargetShape::Keep,
            create_default_indexes: spec.defaults.create_default_indexes.unwrap_or(true),
            default_chunk_time_interval: spec.defaults.chunk_time_interval,
            from: spec.defaults.from,
            until: spec.defaults.until,
            tablespace_map: spec.tablespace_map.clone(),
            compression: None,
            origin: Origin {
                label: format!("include `{}`", pattern.text),
                position: None,
            },
        });
    }
    selection
}

/// One selected table from the source, and the range of its time column when a
/// plain table becomes a hypertable (its copy windows are cut from that range), or
/// of its integer key when it stays plain (its checks are cut from that range).
async fn read_source_table(
    spec: &Spec,
    t: &TableSpec,
    source: &impl GenericClient,
    server: &ServerInfo,
) -> Result<(Table, Option<TimeBounds>, Option<(i64, i64)>), PlanError> {
    let src_err = |source| PlanError::Catalog {
        role: Role::Source,
        source,
    };
    let mut table = match catalog::table(source, server, &t.source).await {
        Ok(table) => table,
        Err(e @ (CatalogError::NotFound(_) | CatalogError::NotATable { .. })) => {
            return Err(PlanError::table(spec, t, format!("{e} on the source")));
        }
        Err(e) => return Err(src_err(e)),
    };
    add_spec_functions(t, &mut table, source)
        .await
        .map_err(src_err)?;
    let time_type = match (&t.shape, &table.hypertable) {
        (TargetShape::Hypertable(h), None) => table
            .column(&h.time_column)
            .and_then(|c| TimeType::from_oid(c.type_oid))
            .map(|tt| (h, tt)),
        _ => None,
    };
    let bounds = match time_type {
        Some((h, tt)) => Some(
            catalog::time_bounds(source, &t.source, &h.time_column, tt)
                .await
                .map_err(src_err)?,
        ),
        None => None,
    };
    let key_range = match super::probe::key_to_cut(&table) {
        Some(column) if table.hypertable.is_none() && bounds.is_none() => {
            catalog::key_range(source, &t.source, column)
                .await
                .map_err(src_err)?
        }
        _ => None,
    };
    Ok((table, bounds, key_range))
}

/// The functions the spec names for the table's hypertable (time partitioning,
/// integer_now_func, hash partitioning) join those the table needs.
async fn add_spec_functions(
    t: &TableSpec,
    table: &mut Table,
    source: &impl GenericClient,
) -> Result<(), CatalogError> {
    let TargetShape::Hypertable(h) = &t.shape else {
        return Ok(());
    };
    let mut names: Vec<String> = Vec::new();
    names.extend(h.time_partitioning_func.clone());
    names.extend(h.integer_now_func.clone());
    for d in &h.dimensions {
        if let DimensionSpec::Hash {
            partitioning_func: Some(f),
            ..
        } = d
        {
            names.push(f.clone());
        }
    }
    if names.is_empty() {
        return Ok(());
    }
    for f in catalog::functions_named(source, &names).await? {
        match table
            .functions
            .iter_mut()
            .find(|o| o.signature() == f.signature())
        {
            Some(o) => o.depth = o.depth.max(f.depth),
            None => table.functions.push(f),
        }
    }
    Ok(())
}

/// Everything a plan needs from the source, for the selected tables (in
/// selection order). A backup keeps this in its manifest, so that `restore` plans
/// exactly as `apply` would from the source itself.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SourceSide {
    /// Source server facts.
    pub source_server: ServerInfo,
    /// One table per selected entry.
    pub tables: Vec<Table>,
    /// For a plain source that becomes a hypertable: the range of its time column.
    pub time_bounds: Vec<Option<TimeBounds>>,
    /// For a plain table that stays plain, with a one-column integer primary key:
    /// the key's range, over which its verification is cut. Not part of any
    /// fingerprint: it moves with every insert and decides no copy.
    pub key_ranges: Vec<Option<(i64, i64)>>,
    /// Plain and materialized views over the tables.
    pub views: Vec<catalog::View>,
    /// Owners and grants per table, when asked for.
    pub grants: Vec<Option<catalog::Grants>>,
    /// Owners and grants per table that the spec does not carry.
    pub grants_left: Vec<Option<catalog::Grants>>,
    /// What the source role may read.
    pub source_privileges: catalog::Privileges,
}

/// Read the selected tables (and what the plan needs around them) from the source.
/// `grants` reads owners and grants too.
pub async fn gather_source(
    spec: &Spec,
    selection: &[TableSpec],
    source: &impl GenericClient,
    grants: bool,
) -> Result<SourceSide, PlanError> {
    let src_err = |source| PlanError::Catalog {
        role: Role::Source,
        source,
    };
    let source_server = catalog::server_info(source).await.map_err(src_err)?;
    let mut tables = Vec::with_capacity(selection.len());
    let mut time_bounds = Vec::with_capacity(selection.len());
    let mut key_ranges = Vec::with_capacity(selection.len());
    for t in selection {
        let (table, bounds, keys) = read_source_table(spec, t, source, &source_server).await?;
        tables.push(table);
        time_bounds.push(bounds);
        key_ranges.push(keys);
    }
    let oids: Vec<u32> = tables.iter().map(|t| t.oid).collect();
    let views = catalog::views_over(source, &source_server, &oids, grants)
        .await
        .map_err(src_err)?;
    let mut grant_list = Vec::with_capacity(tables.len());
    for table in &tables {
        grant_list.push(if grants {
            Some(catalog::grants(source, table).await.map_err(src_err)?)
        } else {
            None
        });
    }
    let source_privileges = catalog::privileges(source, &oids, &[])
        .await
        .map_err(src_err)?;
    Ok(SourceSide {
        source_server,
        tables,
        time_bounds,
        key_ranges,
        views,
        grants: grant_list,
        grants_left: Vec::new(),
        source_privileges,
    })
}

/// Introspect both servers for a spec. `source` should be inside the move's
/// snapshot transaction so that the chunk list matches the data read.
pub async fn gather(
    spec: &Spec,
    source: &impl GenericClient,
    target: &impl GenericClient,
) -> Result<Inputs, PlanError> {
    let src_err = |source| PlanError::Catalog {
        role: Role::Source,
        source,
    };
    let selection = select(spec, source).await.map_err(src_err)?;
    // Owners and grants are read whatever the spec says: what a move would leave
    // behind is refused or listed by name, never dropped unsaid.
    let mut side = gather_source(spec, &selection, source, true).await?;
    // Source jobs a run of this spec paused (and has not restored yet) are read as
    // they were before: the plan, and the source's fingerprint, stay those of the
    // source as its owner left it.
    let paused = crate::journal::paused(target, &super::spec_fingerprint(spec))
        .await
        .map_err(|e| PlanError::Catalog {
            role: Role::Target,
            source: CatalogError::Query {
                what: "the journal".into(),
                message: e.to_string(),
            },
        })?;
    for p in &paused {
        unpause(&mut side.tables, p.job_id, p.scheduled_before);
    }
    if !spec.grants {
        side.grants_left = std::mem::take(&mut side.grants);
        side.grants = side.grants_left.iter().map(|_| None).collect();
        for v in &mut side.views {
            v.grants = None;
        }
    }
    gather_target(spec, selection, side, target).await
}

/// A source job's `scheduled` as it was before a run paused it, wherever the tables
/// carry it (their jobs, and their hypertables' policies).
pub(super) fn unpause(tables: &mut [Table], job_id: i32, scheduled: bool) {
    for t in tables {
        for j in t.jobs.iter_mut().filter(|j| j.id == job_id) {
            j.scheduled = scheduled;
        }
        for p in t
            .hypertable
            .iter_mut()
            .flat_map(|h| h.policies.iter_mut())
            .filter(|p| p.job_id == job_id)
        {
            p.scheduled = scheduled;
        }
    }
}

/// What `validate --online` can know from the source alone: the selection, the
/// source tables and their time ranges. Target facts are left empty, and functions
/// the spec names are assumed present (the target is not consulted).
pub async fn gather_source_only(
    spec: &Spec,
    source: &impl GenericClient,
) -> Result<Inputs, PlanError> {
    let src_err = |source| PlanError::Catalog {
        role: Role::Source,
        source,
    };
    let source_server = catalog::server_info(source).await.map_err(src_err)?;
    let selection = select(spec, source).await.map_err(src_err)?;
    let mut tables = Vec::new();
    let mut time_bounds = Vec::new();
    let mut key_ranges = Vec::new();
    let mut target_functions = BTreeSet::new();
    for t in &selection {
        let (table, bounds, keys) = read_source_table(spec, t, source, &source_server).await?;
        key_ranges.push(keys);
        if let TargetShape::Hypertable(h) = &t.shape {
            target_functions.extend(h.time_partitioning_func.clone());
            target_functions.extend(h.integer_now_func.clone());
            for d in &h.dimensions {
                if let DimensionSpec::Hash {
                    partitioning_func: Some(f),
                    ..
                } = d
                {
                    target_functions.insert(f.clone());
                }
            }
        }

        tables.push(table);
        time_bounds.push(bounds);
    }
    // And the functions triggers execute from pg_catalog or an extension.
    target_functions.extend(super::triggers::functions_outside(&tables));
    // Tables referenced but not moved would be looked up on the target; assume present.
    let target_references = references_not_moved(&selection, &tables);
    // The target is not consulted: its facts are unknown, not the source's.
    let mut target_server = source_server.clone();
    target_server.instance = String::new();
    // The target is not consulted: the roles policies name are assumed there.
    let target_roles = super::security::policy_roles(&tables);
    let target_objects = TargetObjects::assumed(&tables);
    Ok(Inputs {
        target_server,
        source_server,
        selection,
        tables,
        time_bounds,
        key_ranges,
        target_existing: BTreeSet::new(),
        target_present: BTreeSet::new(),
        target_schemas: BTreeSet::new(),
        target_references,
        target_functions,
        target_types: BTreeSet::new(),
        target_function_defs: Default::default(),
        target_sequences: BTreeSet::new(),
        target_names_taken: BTreeSet::new(),
        target_extensions: Default::default(),
        views: Vec::new(),
        grants: Vec::new(),
        grants_left: Vec::new(),
        target_roles,
        target_objects,
        source_privileges: Default::default(),
        target_privileges: catalog::Privileges {
            superuser: true,
            create_in_database: true,
            ..Default::default()
        },
        applied: Vec::new(),
        resume: None,
        stale_run: false,
        archive: None,
    })
}

/// The inputs for a move into a new, empty database of the source's own version:
/// what `backup` writes as `schema.sql`, and how it cuts its windows. Schemas other
/// than `public`, types and extensions are created; tables that foreign keys
/// reference but that are not selected are assumed to be there.
pub fn for_empty_target(selection: Vec<TableSpec>, mut side: SourceSide) -> Inputs {
    // A backup holds rows of the tables only: their continuous aggregates are named
    // as what it leaves behind (refused, or listed with `on_unsupported: warn`).
    for h in side.tables.iter_mut().filter_map(|t| t.hypertable.as_mut()) {
        for c in std::mem::take(&mut h.continuous_aggregates) {
            h.unsupported.push(format!(
                "continuous aggregate {} depends on it (a backup does not carry continuous aggregates yet)",
                c.name
            ));
        }
    }
    let target_references = references_not_moved(&selection, &side.tables);
    let mut target_functions = BTreeSet::new();
    let mut target_extensions = std::collections::BTreeMap::new();
    for table in &side.tables {
        if let Some(h) = &table.hypertable {
            for d in &h.dimensions {
                if let catalog::DimensionKind::Range {
                    integer_now_func: Some(f),
                    ..
                } = &d.kind
                {
                    target_functions.insert(f.clone());
                }
            }
        }
        for ty in &table.types {
            if let Some(ext) = &ty.extension {
                target_extensions.insert(ext.clone(), (false, true));
            }
        }
    }
    // A database of the source's own version has pg_catalog's trigger functions;
    // an extension's are assumed there, as its types' extensions are.
    target_functions.extend(super::triggers::functions_outside(&side.tables));
    let mut target_server = side.source_server.clone();
    target_server.instance = String::new();
    // No target is consulted here: the roles policies name are assumed there.
    let target_roles = super::security::policy_roles(&side.tables);
    let target_objects = TargetObjects::assumed(&side.tables);
    Inputs {
        target_server,
        source_server: side.source_server,
        selection,
        tables: side.tables,
        time_bounds: side.time_bounds,
        key_ranges: side.key_ranges,
        target_existing: BTreeSet::new(),
        target_present: BTreeSet::new(),
        target_schemas: BTreeSet::from(["public".to_string()]),
        target_references,
        target_functions,
        target_types: BTreeSet::new(),
        target_function_defs: Default::default(),
        target_sequences: BTreeSet::new(),
        target_names_taken: BTreeSet::new(),
        target_extensions,
        views: side.views,
        grants: side.grants.iter().map(|_| None).collect(),
        grants_left: Vec::new(),
        target_roles,
        target_objects,
        source_privileges: side.source_privileges,
        target_privileges: catalog::Privileges {
            superuser: true,
            create_in_database: true,
            ..Default::default()
        },
        applied: Vec::new(),
        resume: None,
        stale_run: false,
        archive: None,
    }
}

/// The user functions the tables (and views) need that the target already has, with the
/// target's definitions; the schemas of those functions it has go in `schemas`.
async fn target_functions_of(
    tables: &[Table],
    views: &[catalog::View],
    target: &impl GenericClient,
    schemas: &mut BTreeSet<String>,
) -> Result<std::collections::BTreeMap<String, String>, CatalogError> {
    let mut defs = std::collections::BTreeMap::new();
    let mut asked: BTreeSet<String> = BTreeSet::new();
    let views_need = views.iter().flat_map(|v| &v.functions);
    let jobs_need = tables
        .iter()
        .flat_map(|t| &t.jobs)
        .flat_map(|j| &j.functions);
    for f in tables
        .iter()
        .flat_map(|t| &t.functions)
        .chain(views_need)
        .chain(jobs_need)
    {
        if !asked.insert(f.signature()) {
            continue;
        }
        if let Some(def) = catalog::function_definition(target, &f.signature_sql()).await? {
            defs.insert(f.signature(), def);
        }
        if !schemas.contains(&f.name.schema)
            && catalog::schema_exists(target, &f.name.schema).await?
        {
            schemas.insert(f.name.schema.clone());
        }
    }
    Ok(defs)
}

/// The sequences the tables' defaults draw from that the target already has; the
/// schemas of those sequences it has go in `schemas`.
async fn target_sequences_of(
    tables: &[Table],
    target: &impl GenericClient,
    schemas: &mut BTreeSet<String>,
) -> Result<BTreeSet<QualifiedName>, CatalogError> {
    let mut present = BTreeSet::new();
    for seq in tables.iter().flat_map(|t| &t.default_sequences) {
        if !present.contains(&seq.name) && catalog::relation_exists(target, &seq.name).await? {
            present.insert(seq.name.clone());
        }
        if !schemas.contains(&seq.name.schema)
            && catalog::schema_exists(target, &seq.name.schema).await?
        {
            schemas.insert(seq.name.schema.clone());
        }
    }
    Ok(present)
}

/// Tables the selected tables' foreign keys reference that are not moved with them:
/// the target must already hold them.
fn references_not_moved(selection: &[TableSpec], tables: &[Table]) -> BTreeSet<QualifiedName> {
    let moved: BTreeSet<&QualifiedName> = selection.iter().map(|t| &t.source).collect();
    tables
        .iter()
        .flat_map(|t| t.constraints.iter())
        .filter_map(|c| match &c.kind {
            ConstraintKind::ForeignKey(fk) if !moved.contains(&fk.ref_table) => {
                Some(fk.ref_table.clone())
            }
            _ => None,
        })
        .collect()
}
