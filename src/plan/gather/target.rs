//! The target side of a plan's inputs: what exists there, what it can do, and the
//! record of an interrupted run of the same spec.

use super::*;

/// Complete the source facts with the target's, and find an interrupted run of the
/// same move to resume.
pub async fn gather_target(
    spec: &Spec,
    selection: Vec<TableSpec>,
    side: SourceSide,
    target: &impl GenericClient,
) -> Result<Inputs, PlanError> {
    let tgt_err = |source| PlanError::Catalog {
        role: Role::Target,
        source,
    };
    let journal_err = |e: crate::journal::JournalError| PlanError::Catalog {
        role: Role::Target,
        source: CatalogError::Query {
            what: "the journal".into(),
            message: e.to_string(),
        },
    };
    let mut target_server = catalog::server_info(target).await.map_err(tgt_err)?;
    // Whether the target can compress depends on its license, which a database without
    // the extension does not tell until the extension exists.
    if target_server.timescaledb.is_none()
        && target_server.timescaledb_available.is_some()
        && target_server.timescaledb_license.is_none()
        && (side.tables.iter().any(|t| {
            t.hypertable.as_ref().is_some_and(|h| {
                h.compression.is_some()
                    || !h.policies.is_empty()
                    || !h.continuous_aggregates.is_empty()
            })
        }) || selection.iter().any(|t| t.compression.is_some()))
    {
        target_server.timescaledb_license = catalog::license_once_created(target).await;
    }
    let SourceSide {
        source_server,
        tables,
        time_bounds,
        key_ranges,
        views,
        grants,
        grants_left,
        source_privileges,
    } = side;

    let mut target_existing = BTreeSet::new();
    let mut target_schemas = BTreeSet::new();
    for t in &selection {
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

    let mut target_references = BTreeSet::new();
    for r in references_not_moved(&selection, &tables) {
        if catalog::relation_exists(target, &r)
            .await
            .map_err(tgt_err)?
        {
            target_references.insert(r);
        }
    }

    // Functions the target hypertables will call must exist there.
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    for (t, table) in selection.iter().zip(&tables) {
        if let TargetShape::Hypertable(h) = &t.shape {
            wanted.extend(h.time_partitioning_func.clone());
            wanted.extend(h.integer_now_func.clone());
            for d in &h.dimensions {
                if let DimensionSpec::Hash {
                    partitioning_func: Some(f),
                    ..
                } = d
                {
                    wanted.insert(f.clone());
                }
            }
        }
        if let Some(h) = &table.hypertable {
            for d in &h.dimensions {
                if let catalog::DimensionKind::Range {
                    integer_now_func: Some(f),
                    ..
                } = &d.kind
                {
                    wanted.insert(f.clone());
                }
            }
        }
    }
    // And the functions triggers execute that no moved table brings (pg_catalog's,
    // an extension's).
    wanted.extend(crate::plan::triggers::functions_outside(&tables));
    let mut target_functions = BTreeSet::new();
    for f in wanted {
        if catalog::function_exists(target, &f)
            .await
            .map_err(tgt_err)?
        {
            target_functions.insert(f);
        }
    }

    // Types the columns need: present already, or to be created (with their schema).
    let mut target_types = BTreeSet::new();
    let mut target_extensions = std::collections::BTreeMap::new();
    for table in &tables {
        for ty in &table.types {
            match &ty.extension {
                Some(ext) => {
                    if !target_extensions.contains_key(ext) {
                        let state = catalog::extension_state(target, ext)
                            .await
                            .map_err(tgt_err)?;
                        target_extensions.insert(ext.clone(), state);
                    }
                }
                None => {
                    if catalog::type_exists(target, &ty.name)
                        .await
                        .map_err(tgt_err)?
                    {
                        target_types.insert(ty.name.clone());
                    }
                    if catalog::schema_exists(target, &ty.name.schema)
                        .await
                        .map_err(tgt_err)?
                    {
                        target_schemas.insert(ty.name.schema.clone());
                    }
                }
            }
        }
    }

    let target_function_defs = target_functions_of(&tables, &views, target, &mut target_schemas)
        .await
        .map_err(tgt_err)?;
    let target_sequences = target_sequences_of(&tables, target, &mut target_schemas)
        .await
        .map_err(tgt_err)?;

    // The views' names, and the source names of what they read that moves elsewhere
    // (asked below with the other names the plan needs), and their schemas.
    let (mut view_names, mut schemas) =
        crate::plan::views::names_to_probe(spec, &selection, &tables, &views);
    // And the continuous aggregates', the same way.
    let (cagg_names, cagg_schemas) = crate::plan::caggs::names_to_probe(spec, &selection, &tables);
    view_names.extend(cagg_names);
    schemas.extend(cagg_schemas);
    for schema in schemas {
        if !target_schemas.contains(&schema)
            && catalog::schema_exists(target, &schema)
                .await
                .map_err(tgt_err)?
        {
            target_schemas.insert(schema);
        }
    }
    for ext in views.iter().flat_map(|v| &v.extensions) {
        if !target_extensions.contains_key(ext) {
            let state = catalog::extension_state(target, ext)
                .await
                .map_err(tgt_err)?;
            target_extensions.insert(ext.clone(), state);
        }
    }

    let maps: BTreeSet<String> = selection
        .iter()
        .flat_map(|t| t.tablespace_map.values().cloned())
        .collect();
    let target_objects = objects::gather(&tables, &grants, &maps, target, &mut target_schemas)
        .await
        .map_err(tgt_err)?;

    let mut roles: BTreeSet<String> = BTreeSet::new();
    let view_grants = views.iter().filter_map(|v| v.grants.as_ref());
    for g in grants.iter().flatten().chain(view_grants) {
        roles.extend(crate::plan::grants::roles(g).into_iter().map(String::from));
    }
    roles.extend(crate::plan::security::policy_roles(&tables));
    if spec.grants {
        roles.extend(crate::plan::caggs::roles(&tables));
    }
    let roles: Vec<String> = roles.into_iter().collect();
    let target_roles = catalog::roles_present(target, &roles)
        .await
        .map_err(tgt_err)?
        .into_iter()
        .collect();

    let mut written: Vec<String> = selection.iter().map(|t| t.target.schema.clone()).collect();
    written.sort();
    written.dedup();
    let target_privileges = catalog::privileges(target, &[], &written)
        .await
        .map_err(tgt_err)?;

    // Indexes and statistics objects keep their names: one taken on the target
    // would fail its step after the data is in; the plan refuses it first.
    let wanted: Vec<QualifiedName> = selection
        .iter()
        .zip(&tables)
        .flat_map(|(t, table)| crate::plan::preflight::created_names(t, table))
        .map(|(_, name)| name)
        .chain(view_names)
        .collect();
    let target_names_taken = catalog::names_taken(target, &wanted)
        .await
        .map_err(tgt_err)?
        .into_iter()
        .collect();

    let applied = crate::journal::applied(target).await.map_err(journal_err)?;

    let mut inputs = Inputs {
        grants_left,
        source_privileges,
        target_privileges,
        grants,
        target_roles,
        target_objects,
        views,
        target_types,
        target_function_defs,
        target_sequences,
        target_names_taken,
        target_extensions,
        source_server,
        target_server,
        selection,
        tables,
        time_bounds,
        key_ranges,
        target_present: target_existing.clone(),
        target_existing,
        target_schemas,
        target_references,
        target_functions,
        applied,
        resume: None,
        stale_run: false,
        archive: None,
    };

    // An interrupted run of this spec from this very source state is resumed: the
    // plan is rebuilt from the target as it was when that run began.
    let spec_fp = crate::plan::fingerprint::spec_fingerprint(spec);
    let source_fp =
        crate::plan::fingerprint::combined(&crate::plan::fingerprint::source_fingerprint(&inputs));
    let runs = crate::journal::unfinished_runs(target, &spec_fp)
        .await
        .map_err(journal_err)?;
    if let Some(run) = runs.iter().find(|r| r.source_fingerprint == source_fp) {
        let side: TargetSide = serde_json::from_str(&run.target_inputs).map_err(|e| {
            tgt_err(CatalogError::Query {
                what: "hypermove.run".into(),
                message: format!("the journal's target record is unreadable: {e}"),
            })
        })?;
        inputs.target_server = side.target_server;
        inputs.target_existing = side.target_existing;
        inputs.target_schemas = side.target_schemas;
        inputs.target_references = side.target_references;
        inputs.target_functions = side.target_functions;
        inputs.target_types = side.target_types;
        inputs.target_function_defs = side.target_function_defs;
        inputs.target_sequences = side.target_sequences;
        inputs.target_names_taken = side.target_names_taken;
        inputs.target_extensions = side.target_extensions;
        inputs.target_roles = side.target_roles;
        inputs.target_objects = side.target_objects;
        inputs.resume = Some(run.done.iter().cloned().collect());
    } else {
        inputs.stale_run = !runs.is_empty();
    }
    Ok(inputs)
}
