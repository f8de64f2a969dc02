//! Read everything a plan depends on, from both servers, before anything is decided.

use std::collections::BTreeSet;

use tokio_postgres::GenericClient;

use super::PlanError;
use crate::catalog::{self, CatalogError, ConstraintKind, ServerInfo, Table, TimeBounds, TimeType};
use crate::pg::{QualifiedName, Role};
use crate::spec::Spec;

/// The catalog facts a plan is built from. Building from these is pure, so the
/// same inputs always give the same plan.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Source server facts.
    pub source_server: ServerInfo,
    /// Target server facts.
    pub target_server: ServerInfo,
    /// One source table per spec entry, in spec order.
    pub tables: Vec<Table>,
    /// For a plain source that becomes a hypertable: the range of its time column.
    pub time_bounds: Vec<Option<TimeBounds>>,
    /// Target tables named by the spec that already exist on the target.
    pub target_existing: BTreeSet<QualifiedName>,
    /// Schemas that exist on the target (only those the plan asked about).
    pub target_schemas: BTreeSet<String>,
    /// Tables referenced by foreign keys, not moved, that exist on the target.
    pub target_references: BTreeSet<QualifiedName>,
    /// Moves the target records as complete: (spec fingerprint, source fingerprint).
    pub applied: Vec<(String, String)>,
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
    let tgt_err = |source| PlanError::Catalog {
        role: Role::Target,
        source,
    };
    let source_server = catalog::server_info(source).await.map_err(src_err)?;
    let target_server = catalog::server_info(target).await.map_err(tgt_err)?;

    let mut tables = Vec::with_capacity(spec.tables.len());
    let mut time_bounds = Vec::with_capacity(spec.tables.len());
    for (index, t) in spec.tables.iter().enumerate() {
        let table = match catalog::table(source, &source_server, &t.source).await {
            Ok(table) => table,
            Err(e @ (CatalogError::NotFound(_) | CatalogError::NotATable { .. })) => {
                return Err(PlanError::Table {
                    file: spec.path.display().to_string(),
                    index,
                    table: t.source.clone(),
                    message: format!("{e} on the source"),
                });
            }
            Err(e) => return Err(src_err(e)),
        };
        let bounds = match (&t.hypertable, &table.hypertable) {
            (Some(h), None) => match table.column(&h.time_column) {
                Some(col) => match TimeType::from_oid(col.type_oid) {
                    Some(tt) => Some(
                        catalog::time_bounds(source, &t.source, &h.time_column, tt)
                            .await
                            .map_err(src_err)?,
                    ),
                    None => None,
                },
                None => None,
            },
            _ => None,
        };
        tables.push(table);
        time_bounds.push(bounds);
    }

    let mut target_existing = BTreeSet::new();
    let mut target_schemas = BTreeSet::new();
    for t in &spec.tables {
        if catalog::relation_exists(target, &t.target)
            .await
            .map_err(tgt_err)?
        {
            target_existing.insert(t.target.clone());
        }
        if catalog::schema_exists(target, &t.target.schema)
            .await
            .map_err(tgt_err)?
        {
            target_schemas.insert(t.target.schema.clone());
        }
    }

    let moved: BTreeSet<&QualifiedName> = spec.tables.iter().map(|t| &t.source).collect();
    let mut target_references = BTreeSet::new();
    for table in &tables {
        for c in &table.constraints {
            if let ConstraintKind::ForeignKey(fk) = &c.kind {
                if !moved.contains(&fk.ref_table)
                    && catalog::relation_exists(target, &fk.ref_table)
                        .await
                        .map_err(tgt_err)?
                {
                    target_references.insert(fk.ref_table.clone());
                }
            }
        }
    }

    let applied = catalog::applied_moves(target).await.map_err(tgt_err)?;

    Ok(Inputs {
        applied,
        source_server,
        target_server,
        tables,
        time_bounds,
        target_existing,
        target_schemas,
        target_references,
    })
}
