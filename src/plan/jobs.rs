//! Background jobs around the moved tables (see `catalog::SourceJob`). Pure.
//!
//! - **Which jobs.** A job touches a moved table when its hypertable is the table,
//!   when it belongs to a continuous aggregate over the table (a refresh policy), or,
//!   for a user job (`add_job`), when its config names the table (a string anywhere in
//!   it equal to `schema.name`, quoted or not, or to the bare name; or a top-level
//!   `hypertable_id` equal to the table's) or its procedure's SQL-standard body reads
//!   it. A plpgsql body is not parsed at creation, so PostgreSQL records nothing of
//!   what it reads or calls: such a job is found through its config only, and the
//!   functions its body calls are not followed (create them on the target first).
//! - **User jobs** are recreated with `add_job` (procedure, schedule, config with the
//!   moved tables' target names, initial start, fixed schedule, time zone, config
//!   check) and `alter_job` (max runtime, retries, retry period). Their procedures
//!   move through the function closure, or are refused by name (C functions).
//! - **Paused until verified.** Every job and policy the plan creates on the target
//!   is created paused (`scheduled => false`). The `jobs:enable` step, which `exec`
//!   holds back until the whole move has verified, enables those scheduled on the
//!   source, unless the spec says `jobs: paused`.
//! - **Source jobs during the move.** A scheduled source job that touches a moved
//!   table can drop or rewrite chunks under the move's snapshot: the plan names each
//!   one, and `apply --pause-source-jobs` pauses them for the move.

use std::collections::BTreeMap;

use super::{Inputs, PlanError};
use crate::catalog::{JobPolicy, JobPolicyKind, SourceJob};
use crate::pg::{QualifiedName, quote_ident, quote_literal};
use crate::spec::{OnUnsupported, Spec};

/// The procedure TimescaleDB's refresh policies run.
pub(super) const REFRESH_PROC: &str = "policy_refresh_continuous_aggregate";

/// Every job that touches a moved table, once (by source job ID), with the selection
/// indexes of the tables it touches.
pub(super) fn touching(inputs: &Inputs) -> Vec<(&SourceJob, Vec<usize>)> {
    let mut by_id: BTreeMap<i32, (&SourceJob, Vec<usize>)> = BTreeMap::new();
    for (i, table) in inputs.tables.iter().enumerate() {
        for j in &table.jobs {
            by_id.entry(j.id).or_insert((j, Vec::new())).1.push(i);
        }
    }
    by_id.into_values().collect()
}

/// The scheduled source jobs that touch moved tables, named, with what a run of
/// one during the move can do: for the plan's warnings.
pub(super) fn source_warnings(inputs: &Inputs) -> Vec<String> {
    touching(inputs)
        .into_iter()
        .filter(|(j, _)| j.scheduled)
        .map(|(j, touches)| {
            let tables: Vec<String> = touches
                .iter()
                .map(|i| inputs.selection[*i].source.to_string())
                .collect();
            format!(
                "source {} is scheduled and touches {} ({}): a run during the move can drop or rewrite chunks under its snapshot; `hypermove apply --pause-source-jobs` pauses it for the move and restores it afterwards",
                j.describe(),
                tables.join(", "),
                j.why
            )
        })
        .collect()
}

/// A user job the plan recreates on the target.
#[derive(Debug, Clone)]
pub(super) struct UserJob<'a> {
    /// The source job.
    pub(super) job: &'a SourceJob,
    /// Selection indexes of the moved tables it touches.
    pub(super) touches: Vec<usize>,
    /// Its config on the target, as a SQL expression (`NULL` when it has none).
    pub(super) config_sql: String,
}

/// A policy of a continuous aggregate over a moved table (a refresh policy above
/// all), recreated once the plan has the aggregate's `cagg:<view>` step.
#[derive(Debug, Clone)]
pub(super) struct CaggPolicy<'a> {
    /// The source job.
    pub(super) job: &'a SourceJob,
    /// The aggregate's name on the target.
    pub(super) view: QualifiedName,
    /// `refresh`, `compression` or `retention`.
    pub(super) kind: &'static str,
}

/// What the plan does with the jobs around the moved tables.
#[derive(Debug, Clone, Default)]
pub(super) struct Decision<'a> {
    /// User jobs to recreate.
    pub(super) user_jobs: Vec<UserJob<'a>>,
    /// Policies of continuous aggregates, placed when their aggregate moves.
    pub(super) cagg_policies: Vec<CaggPolicy<'a>>,
    /// What is not carried, said out loud (`on_unsupported: warn`).
    pub(super) warnings: Vec<String>,
}

/// Decide which user jobs are recreated: refused by name (or, with
/// `on_unsupported: warn`, listed and left behind) when the target cannot run jobs
/// (TimescaleDB's Apache edition, or none) or their procedure cannot be carried.
pub(super) fn decide<'a>(spec: &Spec, inputs: &'a Inputs) -> Result<Decision<'a>, PlanError> {
    let mut out = Decision::default();
    let mut refused = Vec::new();
    let license = inputs.target_server.timescaledb_license.as_deref();
    for (job, touches) in touching(inputs) {
        if !job.user {
            if let Some(view) = &job.cagg {
                let kind = match job.proc.name.as_str() {
                    REFRESH_PROC => "refresh",
                    "policy_compression" => "compression",
                    "policy_retention" => "retention",
                    _ => continue,
                };
                out.cagg_policies.push(CaggPolicy {
                    job,
                    view: cagg_target(spec, view),
                    kind,
                });
            }
            // The table's own policies are compression.rs's; any other is refused
            // with the hypertable's unsupported features.
            continue;
        }
        let t = &inputs.selection[touches[0]];
        let mut why_not = Vec::new();
        if license != Some("timescale") {
            why_not.push(format!(
                "jobs on the target need TimescaleDB's community edition, and the target's is licensed `{}` (TimescaleDB {})",
                license.unwrap_or("unknown"),
                inputs
                    .target_server
                    .timescaledb
                    .as_deref()
                    .or(inputs.target_server.timescaledb_available.as_deref())
                    .unwrap_or("not installed"),
            ));
        }
        for f in [Some(&job.proc), job.check.as_ref()].into_iter().flatten() {
            if let Some(reason) = not_carried(inputs, job, f) {
                why_not.push(reason);
            }
        }
        if why_not.is_empty() {
            out.user_jobs.push(UserJob {
                job,
                config_sql: config_sql(inputs, job, &touches),
                touches,
            });
        } else if spec.on_unsupported == OnUnsupported::Warn {
            out.warnings.push(format!(
                "{}: {} ({}) is not carried over: {} (on_unsupported: warn)",
                t.source,
                job.describe(),
                job.why,
                why_not.join("; ")
            ));
        } else {
            refused.push(PlanError::table(
                spec,
                t,
                format!(
                    "{} ({}) cannot be carried over: {}; `on_unsupported: warn` moves the tables without it",
                    job.describe(),
                    job.why,
                    why_not.join("; ")
                ),
            ));
        }
    }
    match PlanError::collected(refused) {
        None => Ok(out),
        Some(e) => Err(e),
    }
}

/// A continuous aggregate's name on the target: its own, in the schema
/// `schema_map:` maps its schema to (as for views).
fn cagg_target(spec: &Spec, view: &QualifiedName) -> QualifiedName {
    let schema = spec.schema_map.get(&view.schema).unwrap_or(&view.schema);
    QualifiedName::new(schema.clone(), view.name.clone())
}

/// Why a job's procedure (or config check) will not be on the target, if it will
/// not: it can be neither recreated nor found there. One outside the closure (an
/// extension's) is taken to be there.
fn not_carried(inputs: &Inputs, job: &SourceJob, f: &QualifiedName) -> Option<String> {
    let missing = job.functions.iter().find(|uf| {
        &uf.name == f
            && !super::functions::recreatable(uf)
            && !inputs.target_function_defs.contains_key(&uf.signature())
    })?;
    Some(format!(
        "its procedure {} is in language {}, which hypermove does not recreate, and the target lacks it",
        missing.signature(),
        missing.language
    ))
}

/// The job's config on the target, as SQL: the source's, with every string naming a
/// moved table (see [`rename_in_config`]) naming its target instead, and a top-level
/// `hypertable_id` set to the target hypertable's ID (looked up when the step runs).
fn config_sql(inputs: &Inputs, job: &SourceJob, touches: &[usize]) -> String {
    let Some(text) = &job.config else {
        return "NULL".into();
    };
    let renames: Vec<(&QualifiedName, &QualifiedName)> = touches
        .iter()
        .map(|i| (&inputs.selection[*i].source, &inputs.selection[*i].target))
        .collect();
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => rename_in_config(v, &renames),
        // jsonb's text is always JSON; kept as it is should that ever not hold.
        Err(_) => return format!("{}::jsonb", quote_literal(text)),
    };
    let sql = format!("{}::jsonb", quote_literal(&value.to_string()));
    // The hypertable_id of the source means another table (or none) on the target.
    let by_id = inputs.tables.iter().zip(&inputs.selection).find(|(t, _)| {
        t.jobs
            .iter()
            .any(|j| j.id == job.id && j.why.contains("hypertable_id"))
    });
    match by_id {
        Some((_, t)) => format!(
            "jsonb_set({sql}, '{{hypertable_id}}', to_jsonb((SELECT h.id FROM _timescaledb_catalog.hypertable h WHERE h.schema_name = {} AND h.table_name = {})))",
            quote_literal(&t.target.schema),
            quote_literal(&t.target.name)
        ),
        None => sql,
    }
}

/// A config with each string that names a moved table by its source name naming
/// its target instead, in the same form: `schema.name` (quoted or not) or the bare
/// name.
pub(super) fn rename_in_config(
    value: serde_json::Value,
    renames: &[(&QualifiedName, &QualifiedName)],
) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            for (source, target) in renames {
                if source == target {
                    continue;
                }
                if s == format!("{}.{}", source.schema, source.name) {
                    return Value::String(format!("{}.{}", target.schema, target.name));
                }
                if s == source.to_string() || s == source.sql() {
                    return Value::String(target.to_string());
                }
                if s == source.name {
                    return Value::String(target.name.clone());
                }
            }
            Value::String(s)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| rename_in_config(v, renames))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, rename_in_config(v, renames)))
                .collect(),
        ),
        other => other,
    }
}

/// `INTERVAL '…'`.
fn interval(text: &str) -> String {
    format!("INTERVAL {}", quote_literal(text))
}

/// `'"schema"."name"'::regproc`.
fn regproc(f: &QualifiedName) -> String {
    format!("{}::regproc", quote_literal(&f.sql()))
}

/// The statement that recreates a user job on the target, paused: `add_job` with
/// everything it takes, then `alter_job` with what only it takes.
pub(super) fn add_job_sql(ts_schema: &str, j: &UserJob<'_>) -> String {
    let ts = quote_ident(ts_schema);
    let job = j.job;
    let mut args = vec![
        regproc(&job.proc),
        interval(&job.schedule_interval),
        format!("config => {}", j.config_sql),
    ];
    if let Some(start) = &job.initial_start {
        args.push(format!(
            "initial_start => TIMESTAMPTZ {}",
            quote_literal(start)
        ));
    }
    // Paused until the move is verified (see the module's documentation).
    args.push("scheduled => false".into());
    if let Some(check) = &job.check {
        args.push(format!("check_config => {}", regproc(check)));
    }
    args.push(format!("fixed_schedule => {}", job.fixed_schedule));
    if let Some(tz) = &job.timezone {
        args.push(format!("timezone => {}", quote_literal(tz)));
    }
    format!(
        "SELECT {ts}.alter_job({ts}.add_job({}), max_runtime => {}, max_retries => {}, retry_period => {})",
        args.join(", "),
        interval(&job.max_runtime),
        job.max_retries,
        interval(&job.retry_period)
    )
}

/// Which target jobs a statement of the `jobs:enable` step (or a policy step's
/// pause) acts on, as a `WHERE` over `timescaledb_information.jobs j`.
pub(super) fn user_job_filter(j: &UserJob<'_>) -> String {
    format!(
        "j.proc_schema = {} AND j.proc_name = {} AND j.config IS NOT DISTINCT FROM {} AND j.schedule_interval = {}",
        quote_literal(&j.job.proc.schema),
        quote_literal(&j.job.proc.name),
        j.config_sql,
        interval(&j.job.schedule_interval)
    )
}

/// The `WHERE` that finds a hypertable's compression or retention policy on the target.
pub(super) fn policy_filter(target: &QualifiedName, kind: JobPolicyKind) -> String {
    let proc = match kind {
        JobPolicyKind::Compression => "policy_compression",
        JobPolicyKind::Retention => "policy_retention",
    };
    format!(
        "j.hypertable_schema = {} AND j.hypertable_name = {} AND j.proc_name = {}",
        quote_literal(&target.schema),
        quote_literal(&target.name),
        quote_literal(proc)
    )
}

/// The `WHERE` that finds a continuous aggregate's policy on the target, by its
/// materialization hypertable (which `timescaledb_information.jobs` names
/// differently across TimescaleDB versions).
pub(super) fn cagg_policy_filter(p: &CaggPolicy<'_>) -> String {
    let (schema, name) = (quote_literal(&p.view.schema), quote_literal(&p.view.name));
    format!(
        "j.proc_name = {} AND (j.hypertable_schema, j.hypertable_name) IN (SELECT h.schema_name, h.table_name FROM _timescaledb_catalog.continuous_agg ca JOIN _timescaledb_catalog.hypertable h ON h.id = ca.mat_hypertable_id WHERE ca.user_view_schema = {schema} AND ca.user_view_name = {name} UNION ALL SELECT {schema}, {name})",
        quote_literal(&p.job.proc.name),
    )
}

/// `alter_job` on the target jobs a filter finds.
pub(super) fn alter_where(ts_schema: &str, filter: &str, settings: &str) -> String {
    format!(
        "SELECT {}.alter_job(j.job_id, {settings}) FROM timescaledb_information.jobs j WHERE {filter}",
        quote_ident(ts_schema)
    )
}

/// The settings of a recreated policy that its `add_*_policy` call does not take, as
/// the source has them: `alter_job` arguments (paused, then the source's runtime
/// limits and retries, when the source job is known).
pub(super) fn policy_settings(source: Option<&SourceJob>) -> String {
    let mut s = vec!["scheduled => false".to_string()];
    if let Some(j) = source {
        s.push(format!("max_runtime => {}", interval(&j.max_runtime)));
        s.push(format!("max_retries => {}", j.max_retries));
        s.push(format!("retry_period => {}", interval(&j.retry_period)));
    }
    s.join(", ")
}

/// The statement that recreates a continuous aggregate's policy, paused. Its
/// thresholds come from its config as the source has it; `None` (with the reason)
/// when the config holds a setting hypermove does not know how to pass on.
pub(super) fn cagg_policy_sql(ts_schema: &str, p: &CaggPolicy<'_>) -> Result<Vec<String>, String> {
    let ts = quote_ident(ts_schema);
    let config: serde_json::Value = p
        .job
        .config
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(serde_json::Value::Null);
    let rel = format!("{}::regclass", quote_literal(&p.view.sql()));
    let threshold = |key: &str| -> String {
        match config.get(key) {
            None | Some(serde_json::Value::Null) => "NULL".into(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::String(s)) => interval(s),
            Some(other) => quote_literal(&other.to_string()),
        }
    };
    let known: &[&str] = match p.kind {
        "refresh" => &[
            "start_offset",
            "end_offset",
            "mat_hypertable_id",
            "include_tiered_data",
            "buckets_per_batch",
            "max_batches_per_execution",
            "refresh_newest_first",
        ],
        "compression" => &["compress_after", "hypertable_id"],
        _ => &["drop_after", "hypertable_id"],
    };
    let unknown: Vec<&str> = config
        .as_object()
        .map(|m| {
            m.keys()
                .map(String::as_str)
                .filter(|k| !known.contains(k))
                .collect()
        })
        .unwrap_or_default();
    if !unknown.is_empty() {
        return Err(format!(
            "its {} policy (job {}) has settings hypermove does not carry ({})",
            p.kind,
            p.job.id,
            unknown.join(", ")
        ));
    }
    let schedule = interval(&p.job.schedule_interval);
    let mut args = vec![rel];
    let call = match p.kind {
        "refresh" => {
            args.push(format!("start_offset => {}", threshold("start_offset")));
            args.push(format!("end_offset => {}", threshold("end_offset")));
            args.push(format!("schedule_interval => {schedule}"));
            for key in [
                "include_tiered_data",
                "buckets_per_batch",
                "max_batches_per_execution",
                "refresh_newest_first",
            ] {
                if let Some(v) = config.get(key).filter(|v| !v.is_null()) {
                    args.push(format!("{key} => {v}"));
                }
            }
            "add_continuous_aggregate_policy"
        }
        "compression" => {
            args.push(format!("compress_after => {}", threshold("compress_after")));
            args.push(format!("schedule_interval => {schedule}"));
            "add_compression_policy"
        }
        _ => {
            args.push(format!("drop_after => {}", threshold("drop_after")));
            args.push(format!("schedule_interval => {schedule}"));
            "add_retention_policy"
        }
    };
    if let Some(start) = &p.job.initial_start {
        args.push(format!(
            "initial_start => TIMESTAMPTZ {}",
            quote_literal(start)
        ));
    }
    if let Some(tz) = &p.job.timezone {
        args.push(format!("timezone => {}", quote_literal(tz)));
    }
    Ok(vec![
        format!("SELECT {ts}.{call}({})", args.join(", ")),
        alter_where(
            ts_schema,
            &cagg_policy_filter(p),
            &policy_settings(Some(p.job)),
        ),
    ])
}

/// The statements of the `jobs:enable` step: enable, on the target, each recreated
/// job and policy that is scheduled on the source. `policies` are the tables'
/// compression and retention policies (target table, policy).
pub(super) fn enable_sql(
    ts_schema: &str,
    policies: &[(&QualifiedName, &JobPolicy)],
    user_jobs: &[&UserJob<'_>],
    cagg_policies: &[&CaggPolicy<'_>],
) -> Vec<String> {
    let on = "scheduled => true";
    let mut out = Vec::new();
    for (target, p) in policies.iter().filter(|(_, p)| p.scheduled) {
        out.push(alter_where(ts_schema, &policy_filter(target, p.kind), on));
    }
    for j in user_jobs.iter().filter(|j| j.job.scheduled) {
        out.push(alter_where(ts_schema, &user_job_filter(j), on));
    }
    for p in cagg_policies.iter().filter(|p| p.job.scheduled) {
        out.push(alter_where(ts_schema, &cagg_policy_filter(p), on));
    }
    out
}
