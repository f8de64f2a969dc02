//! `plan`, `apply`, `verify`, `status` and `clean`: the use cases of `ops`, shown.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use super::progress::Shown;
use super::{Format, Overrides, ReportFormat, confirm, connect_target, load, stop_on_ctrl_c};
use crate::Error;
use crate::ops::{self, Settings, apply::RunEnd};
use crate::pg::{Role, connect};
use crate::plan;
use crate::spec::{Spec, VerifyLevel};
use crate::verify;

/// How `plan` shows the plan.
pub(super) struct PlanShown {
    pub(super) format: Format,
    /// Every window listed.
    pub(super) detailed: bool,
    /// The live move's source checks too.
    pub(super) follow: bool,
}

/// `plan`: print the plan; returns whether it has changes.
pub(super) async fn cmd_plan(
    path: &Path,
    shown: PlanShown,
    out: Option<&Path>,
    overrides: &Overrides,
) -> Result<bool, Error> {
    let PlanShown {
        format,
        detailed,
        follow,
    } = shown;
    let mut spec = load(path)?;
    overrides.apply(&mut spec);
    if follow && (spec.target.directory().is_some() || spec.source.directory().is_some()) {
        return Err(Error::refused(
            "--follow: a live move runs between two databases, not to or from a directory",
        ));
    }
    let plan = if spec.target.directory().is_some() {
        // A backup's plan: what `hypermove backup` would write.
        let source_info = spec.source_db().map_err(Error::refused)?;
        let mut source = connect(source_info, Role::Source, "hypermove plan")
            .await
            .map_err(Error::runtime)?;
        let (tx, _) = crate::pg::session::begin_snapshot(&mut source, false)
            .await
            .map_err(Error::runtime)?;
        let planned = crate::archive::backup::plan_backup(&spec, &tx, spec.verify).await;
        let _ = tx.rollback().await;
        match planned {
            Ok((_, _, plan)) => plan,
            Err(crate::archive::backup::BackupError::Plan(e)) => return Err(e.into()),
            Err(e) => return Err(Error::refused(e)),
        }
    } else if spec.source.directory().is_some() {
        // A restore's plan: what `hypermove restore` would run.
        let target =
            connect_target(spec.target_db().map_err(Error::refused)?, "hypermove plan").await?;
        match crate::archive::restore::plan_restore(&spec, &target).await {
            Ok(plan) => plan,
            Err(crate::archive::restore::RestoreError::Plan(e)) => return Err(e.into()),
            Err(e) => return Err(Error::refused(e)),
        }
    } else {
        ops::apply::plan(&spec, "hypermove plan").await?
    };
    match format {
        Format::Text => print!("{}", plan::render_text(&plan, detailed)),
        Format::Json => print!("{}", plan::render_json(&plan)),
        Format::Dot => print!("{}", plan::render_dot(&plan)),
    }
    if follow {
        let live = ops::follow::live_preflight(&spec).await?;
        // The JSON and DOT outputs stay the plan alone, for tools to read.
        let line = |l: String| match format {
            Format::Text => println!("{l}"),
            _ => eprintln!("{l}"),
        };
        line(format!(
            "\nLive move: publication {} and replication slot {} on the source.",
            live.names.publication, live.names.slot
        ));
        for w in &live.preflight.warnings {
            line(format!("  warning: {w}"));
        }
        for r in &live.preflight.refusals {
            line(format!("  refused: {r}"));
        }
        if !live.preflight.passed() {
            return Err(Error::refused(format!(
                "`apply --follow` would refuse this move ({} problem{} above)",
                live.preflight.refusals.len(),
                if live.preflight.refusals.len() == 1 {
                    ""
                } else {
                    "s"
                }
            )));
        }
    }
    if let Some(out) = out {
        crate::archive::manifest::write_atomically(out, plan::render_json(&plan).as_bytes())
            .map_err(|e| {
                Error::runtime(format!("cannot save the plan to {}: {e}", out.display()))
            })?;
        eprintln!(
            "Saved the plan to {0}. To run exactly this plan: hypermove apply {0}",
            out.display()
        );
    }
    Ok(plan.has_changes())
}

/// How `apply` runs, beyond what the plan says.
pub(super) struct RunOptions {
    pub(super) workers: Option<u16>,
    pub(super) stall_timeout: Duration,
    pub(super) no_snapshot: bool,
    pub(super) pause_source_jobs: bool,
    pub(super) restart: bool,
    /// `--follow`: a live move.
    pub(super) follow: bool,
}

/// `apply`: from a saved plan (checked for staleness), or from a spec (confirmed).
pub(super) async fn cmd_apply(
    path: &Path,
    yes: bool,
    run: &RunOptions,
    overrides: &Overrides,
) -> Result<u8, Error> {
    if path.extension().is_some_and(|e| e == "json") {
        if overrides.any() || run.restart {
            return Err(Error::refused(
                "--verify, --max-window-* and --restart cannot change a saved plan; make the plan again with them",
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::refused(format!("cannot read {}: {e}", path.display())))?;
        let saved: plan::SavedPlan = serde_json::from_str(&text).map_err(|e| {
            Error::refused(format!("{} is not a hypermove plan: {e}", path.display()))
        })?;
        if saved.format_version != plan::FORMAT_VERSION
            || saved.hypermove_version != env!("CARGO_PKG_VERSION")
        {
            return Err(Error::refused(format!(
                "{} was made by hypermove {} (plan format {}); this is hypermove {} (format {}): make the plan again",
                path.display(),
                saved.hypermove_version,
                saved.format_version,
                env!("CARGO_PKG_VERSION"),
                plan::FORMAT_VERSION
            )));
        }
        let spec = load(Path::new(&saved.spec))?;
        return execute(&spec, Some(&saved.fingerprints), run).await;
    }

    let mut spec = load(path)?;
    overrides.apply(&mut spec);
    if run.restart {
        restart(&spec, yes).await?;
    }
    if yes {
        return execute(&spec, None, run).await;
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::refused(
            "refusing to apply without confirmation: standard input is not a terminal; review with `hypermove plan`, then pass --yes or apply a saved plan",
        ));
    }
    // Show the plan without holding a snapshot while a person reads it; after the
    // `yes`, the plan is made again in a fresh snapshot and must match what was shown.
    let shown = ops::apply::plan(&spec, "hypermove plan").await?;
    print!("{}", plan::render_text(&shown, false));
    if !shown.has_changes() {
        return Ok(0);
    }
    if !confirm(
        "\nDo you want to apply this plan? Only 'yes' will be accepted: ",
        "yes",
    )? {
        return Err(Error::runtime("apply cancelled; nothing was written"));
    }
    execute(&spec, Some(&shown.fingerprints), run).await
}

/// Run the apply use case with the terminal as its observer; 3 on a mismatch.
async fn execute(
    spec: &Spec,
    reviewed: Option<&plan::Fingerprints>,
    run: &RunOptions,
) -> Result<u8, Error> {
    let mut settings = Settings::resolve(spec, run.workers, run.stall_timeout, run.no_snapshot);
    settings.pause_source_jobs = run.pause_source_jobs;
    let stop = stop_on_ctrl_c();
    let shown = Shown::default();
    if run.follow {
        ops::follow::apply_follow(spec, reviewed, &settings, stop, &shown, run.restart).await?;
        println!("Live move completed: the cutover verified the target and dropped the slot.");
        return Ok(0);
    }
    let end = ops::apply::apply(spec, reviewed, &settings, stop, &shown).await?;
    exit_of(end)
}

/// `cutover`: finish a live move that `apply --follow` is following.
pub(super) async fn cmd_cutover(path: &Path, timeout: Duration) -> Result<u8, Error> {
    let spec = load(path)?;
    let settings = Settings::resolve(&spec, None, Duration::from_secs(300), false);
    let done = ops::follow::cutover(&spec, timeout, &settings).await?;
    println!(
        "Cutover at {}: the follower applied everything up to it in {:.1} s; {} window checks passed in {:.1} s; no writes after the fence (looked in {:.1} s).",
        done.fence,
        done.waited.as_secs_f64(),
        done.windows,
        done.verified_in.as_secs_f64(),
        done.late_checked_in.as_secs_f64()
    );
    for s in &done.sequences {
        println!("  sequence set: {s}");
    }
    for c in &done.compressed {
        println!("  compressed before verifying, as the source is compressed now: {c}");
    }
    for d in &done.dropped {
        println!("  dropped on the source: {d}");
    }
    Ok(0)
}

/// How a run that did not fail ends for the person who ran it.
pub(super) fn exit_of(end: RunEnd) -> Result<u8, Error> {
    match end {
        RunEnd::NothingToDo => {
            println!("Nothing to do.");
            Ok(0)
        }
        RunEnd::Applied(_) => Ok(0),
        RunEnd::Mismatch(_) => Err(mismatch()),
    }
}

/// The one line a verification mismatch ends with (exit 3).
fn mismatch() -> Error {
    Error::Mismatch("verification failed: the target does not match the source".into())
}

/// `verify`: the same windows and queries as apply's verification, on their own.
pub(super) async fn cmd_verify(
    path: &Path,
    level: Option<VerifyLevel>,
    format: ReportFormat,
    diff: Option<usize>,
    workers: Option<u16>,
) -> Result<u8, Error> {
    let spec = load(path)?;
    let settings = Settings::resolve(&spec, workers, Duration::from_secs(300), false);
    let shown = super::progress::Counting::new("windows verified");
    let found =
        ops::verify::verify(&spec, level.unwrap_or(spec.verify), diff, &settings, &shown).await?;
    match format {
        ReportFormat::Text => {
            print!("{}", verify::render_text(&found.verdict));
            print!("{}", verify::render_diffs(&found.diffs));
        }
        ReportFormat::Json => print!("{}", verify::render_json(&found.verdict, &found.diffs)),
    }
    if found.incomplete {
        return Err(Error::runtime("some windows could not be verified"));
    }
    if !found.verdict.ok() {
        return Err(mismatch());
    }
    Ok(0)
}

/// `status`: what the target's journal says about this spec.
pub(super) async fn cmd_status(path: &Path, format: ReportFormat) -> Result<u8, Error> {
    let spec = load(path)?;
    let ops::status::Status {
        applied,
        unfinished: runs,
        checks,
        compression,
        jobs,
        paused_source_jobs,
        caggs,
    } = ops::status::status(&spec).await?;
    let live = ops::follow::live_status(&spec).await?;
    match format {
        ReportFormat::Json => {
            let mut value = serde_json::json!({
                "format_version": 1,
                "spec": path.display().to_string(),
                "target": spec.target.to_string(),
                "applied": applied,
                "unfinished_runs": runs.iter().map(|r| serde_json::json!({
                    "steps": r.steps,
                    "done": r.done.len(),
                    "failures": r.failures,
                })).collect::<Vec<_>>(),
                "verification": checks,
                "compression": compression,
                "jobs": jobs.iter().map(|j| serde_json::json!({
                    "job_id": j.id,
                    "job": j.describe(),
                    "scheduled": j.scheduled,
                })).collect::<Vec<_>>(),
                "paused_source_jobs": paused_source_jobs.iter().map(|p| serde_json::json!({
                    "job_id": p.job_id,
                    "job": p.job,
                    "scheduled_before": p.scheduled_before,
                })).collect::<Vec<_>>(),
                "continuous_aggregates": caggs.iter().map(|(view, ok, checked)| serde_json::json!({
                    "view": view,
                    "ranges_checked": checked,
                    "ranges_ok": ok,
                })).collect::<Vec<_>>(),
            });
            // Only a spec with a live move gets the live fields (`phase`, `lag_bytes`
            // at the top level: a fixed interface), so other reports stay as they were.
            if let (Some(live), Some(map)) = (&live, value.as_object_mut()) {
                let full = serde_json::to_value(live).expect("live status serializes");
                map.insert("phase".into(), full["phase"].clone());
                map.insert("lag_bytes".into(), full["lag_bytes"].clone());
                map.insert("live".into(), full);
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&value).expect("status serializes")
            );
        }
        ReportFormat::Text => {
            println!("hypermove status for {} on {}", path.display(), spec.target);
            if let Some(live) = &live {
                print_live(live);
            }
            println!(
                "  move: {}",
                if applied {
                    "completed and verified"
                } else {
                    "not recorded as complete"
                }
            );
            for r in &runs {
                println!(
                    "  interrupted run: {} of {} steps done; `hypermove apply` resumes it",
                    r.done.len(),
                    r.steps
                );
                for f in &r.failures {
                    println!("    failed: {f}");
                }
            }
            // The jobs around the moved tables on the target, as they are now.
            for j in &jobs {
                println!(
                    "  job on the target: {}: {}",
                    j.describe(),
                    if j.scheduled { "scheduled" } else { "paused" }
                );
            }
            for p in &paused_source_jobs {
                println!(
                    "  source {}: paused for a move that did not end cleanly (was {}); `hypermove apply` or `hypermove clean` restores it",
                    p.job,
                    if p.scheduled_before {
                        "scheduled"
                    } else {
                        "paused"
                    }
                );
            }
            // Each continuous aggregate's latest verdict, over its bucket ranges.
            for (view, ok, checked) in &caggs {
                println!(
                    "  continuous aggregate {view}: {}",
                    if *checked == 0 {
                        "not verified".to_string()
                    } else if ok == checked {
                        format!("{checked} bucket ranges, all ok")
                    } else {
                        format!("{checked} bucket ranges, {} differ", checked - ok)
                    }
                );
            }
            // The target's compression as it is now, beside what the checks recorded.
            for c in &compression {
                println!(
                    "  compression of {}: {}",
                    c.table,
                    ops::status::describe_compression(c)
                );
            }
            if checks.is_empty() {
                println!("  verification: none recorded");
            } else {
                let failed: Vec<&verify::Recorded> = checks.iter().filter(|c| !c.ok).collect();
                let last = checks
                    .iter()
                    .map(|c| c.verified_at.as_str())
                    .max()
                    .unwrap_or("");
                let totals = checks
                    .iter()
                    .filter(|c| plan::is_table_check(&c.step_id))
                    .count();
                println!(
                    "  verification: {} windows and {totals} table check{}, {} ok, {} failed (latest {last})",
                    checks.len() - totals,
                    if totals == 1 { "" } else { "s" },
                    checks.len() - failed.len(),
                    failed.len()
                );
                for c in failed {
                    println!(
                        "    FAIL {} ({}): source {} / target {}",
                        c.step_id,
                        c.level,
                        c.source.as_deref().unwrap_or("-"),
                        c.target.as_deref().unwrap_or("-")
                    );
                }
            }
        }
    }
    Ok(0)
}

/// `apply --restart`: name the tables it drops, ask for a typed `restart`, then drop
/// them and forget the journal (on the connection that holds the run lock).
async fn restart(spec: &Spec, yes: bool) -> Result<(), Error> {
    let (target, existing) = ops::apply::restart_candidates(spec).await?;
    eprintln!(
        "--restart drops {} table{} on {} and forgets this spec's journal:",
        existing.len(),
        if existing.len() == 1 { "" } else { "s" },
        spec.target
    );
    for t in &existing {
        eprintln!("  {t}");
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::refused(
                "refusing to restart without confirmation: standard input is not a terminal; pass --yes",
            ));
        }
        if !confirm("Type `restart` to go on: ", "restart")? {
            return Err(Error::runtime("restart cancelled; nothing was dropped"));
        }
    }
    ops::apply::restart(spec, &target, &existing).await
}

/// `clean`: forget the spec's journal on the target.
pub(super) async fn cmd_clean(path: &Path) -> Result<u8, Error> {
    let spec = load(path)?;
    let removed = ops::apply::clean(&spec, &Shown::default()).await?;
    // An abandoned live move's slot retains WAL on the source until it is dropped.
    for dropped in ops::follow::clean(&spec).await? {
        println!("Dropped the {dropped} of an abandoned live move on the source.");
    }
    println!(
        "Removed {removed} journal row{} of {} from {}; the moved tables are untouched.",
        if removed == 1 { "" } else { "s" },
        path.display(),
        spec.target
    );
    Ok(0)
}

/// The live part of `status`, in text.
fn print_live(live: &crate::live::session::Status) {
    let secs = |v: Option<f64>| v.map_or("unknown".to_string(), |s| format!("{s:.1} s"));
    println!("  live move: {}", live.phase.as_str());
    println!(
        "    lag: {} bytes, {}",
        live.lag_bytes,
        secs(live.lag_seconds)
    );
    if let Some(rate) = live.apply_rate_rows_per_second {
        println!("    apply rate: {rate:.0} rows/s");
    }
    if let Some(retained) = live.retained_wal_bytes {
        println!(
            "    WAL retained by the slot: {retained} bytes ({})",
            live.wal_status.as_deref().unwrap_or("unknown")
        );
    }
    if let Some(age) = live.heartbeat_age_seconds {
        if age > crate::live::session::HEARTBEAT_STALE.as_secs_f64() {
            println!(
                "    warning: no follower heartbeat for {age:.0} s: the slot keeps retaining WAL; run `hypermove apply --follow` again or `hypermove clean`"
            );
        }
    }
}
