//! The plan `hypermove verify` runs: verification steps only, the same windows and
//! queries `apply` uses, against a target that already holds the tables.

use super::*;

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
        let shape = preflight::check_verifiable(spec, inputs, t, table)?;
        let windows = window::for_table(spec, t, table, &shape, bounds.and_then(|b| b.range));
        let index = table_plans.len();
        let ranges = probe::key_ranges(t, table, &windows, inputs.key_ranges[index])
            .unwrap_or_else(|| probe::window_ranges(t, table, &shape, &windows));
        // The row total first: a whole-table count on both sides, it would otherwise
        // run alone at the end while the windows' reads could have covered it.
        if level != VerifyLevel::None && probe::needs_total(&windows) {
            b.add(
                Step {
                    id: probe::total_id(t),
                    kind: StepKind::Verify,
                    table: Some(t.target.clone()),
                    action: Action::Probe(probe::total_probe(t, time_of(table, &shape).as_ref())),
                },
                &[],
            );
        }
        for r in ranges {
            if let Some(probe) = probe::probe(level, table, &r) {
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
        // Its continuous aggregates on the target, bucket range by bucket range.
        let base = table_plans.len();
        for (id, view, probe) in crate::plan::caggs::verification(spec, inputs, base, level) {
            b.add(
                Step {
                    id,
                    kind: StepKind::Verify,
                    table: Some(view),
                    action: Action::Probe(probe),
                },
                &[],
            );
        }
        // The target's compression as the move left it, checked again.
        let decision = crate::plan::compression::decide(spec, inputs, t, table, &shape)
            .map_err(|m| PlanError::table(spec, t, m))?;
        if let (Some(c), Some((_, time_type)), true) = (
            &decision.compression,
            time_of(table, &shape),
            level != VerifyLevel::None,
        ) {
            let source_order_by = table
                .hypertable
                .as_ref()
                .and_then(|h| h.compression.as_ref())
                .map(|s| s.order_by.as_str());
            b.add(
                Step {
                    id: format!("verify:{}:compression", t.target),
                    kind: StepKind::Verify,
                    table: Some(t.target.clone()),
                    action: Action::Probe(crate::plan::compression::verify_probe(
                        source_order_by,
                        &t.target,
                        time_type,
                        c,
                    )),
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
            est_rows: est_rows(&windows),
            est_bytes: windows.iter().map(|w| w.est_bytes).sum(),
            compression: crate::plan::compression::describe(table, &decision),
        });
    }
    let mut plan = plan_shell(spec, inputs, fingerprint::fingerprints(spec, inputs));
    plan.graph = b.graph;
    plan.tables = table_plans;
    Ok(plan)
}
