//! `apply` (and `restore`, which runs its plan the same way): plan inside the source
//! snapshot, check the plan against what was reviewed, take the run lock, journal,
//! run the steps in parallel, verify, and record the outcome on the target.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio_postgres::{Client, Transaction};

use super::{Observer, Settings, connect_both};
use crate::Error;
use crate::exec::{self, Event, ExecConfig, Outcome};
use crate::journal;
use crate::pg::{ConnInfo, QualifiedName, Role, connect};
use crate::plan::{self, Plan};
use crate::spec::Spec;
use crate::verify::{self, Verdict};

/// How a run that did not fail ended.
#[derive(Debug)]
pub enum RunEnd {
    /// The target already held everything: nothing ran.
    NothingToDo,
    /// Every step ran and the verification passed; the move is recorded as applied.
    Applied(Verdict),
    /// Every step ran but the verification found differences (exit 3): the move is
    /// not recorded as applied, and `status` shows the failing windows.
    Mismatch(Verdict),
}

/// Open the snapshot on the source, read both catalogs inside it (the target's
/// session comes set up from [`connect_both`]) and build the plan. `plan` and `apply` both come through here, so what is reviewed is what runs.
pub async fn plan_in_snapshot<'a>(
    spec: &Spec,
    source: &'a mut Client,
    target: &Client,
    export: bool,
) -> Result<(Transaction<'a>, Option<String>, Plan), Error> {
    plan_in(spec, source, target, export, None).await
}

/// [`plan_in_snapshot`], or, given `imported`, inside that snapshot (the one a live
/// move's replication slot exported), which every worker then imports too.
async fn plan_in<'a>(
    spec: &Spec,
    source: &'a mut Client,
    target: &Client,
    export: bool,
    imported: Option<&str>,
) -> Result<(Transaction<'a>, Option<String>, Plan), Error> {
    let (tx, snapshot) = match imported {
        Some(name) => (
            crate::pg::session::join_snapshot_tx(source, Some(name))
                .await
                .map_err(|e| Error::runtime(format!("importing the slot's snapshot: {e}")))?,
            Some(name.to_string()),
        ),
        None => crate::pg::session::begin_snapshot(source, export)
            .await
            .map_err(Error::runtime)?,
    };
    let inputs = plan::gather(spec, &tx, target).await?;
    let plan = plan::build(spec, &inputs)?;
    Ok((tx, snapshot, plan))
}

/// Make the plan for a spec without running it (what `plan` and the confirmation
/// prompt show). No snapshot is held afterwards.
pub async fn plan(spec: &Spec, app: &str) -> Result<Plan, Error> {
    let (mut source, target) = connect_both(spec, app).await?;
    let (tx, _snapshot, plan) = plan_in_snapshot(spec, &mut source, &target, false).await?;
    let _ = tx.rollback().await;
    Ok(plan)
}

/// Plan inside a fresh snapshot, check it against the reviewed fingerprints (when
/// there are some), then run it. Nothing is written before that check, except, with
/// `--pause-source-jobs`, the pausing of the source's jobs (before the snapshot, so
/// none runs under it). The run lock is taken first, and whatever happens, the
/// source jobs a run of this spec paused are restored before it is released.
pub async fn apply(
    spec: &Spec,
    reviewed: Option<&plan::Fingerprints>,
    settings: &Settings,
    stop: Arc<AtomicBool>,
    observer: &dyn Observer,
) -> Result<RunEnd, Error> {
    apply_in(spec, reviewed, settings, stop, observer, None).await
}

/// [`apply`], reading the source in `imported` (an exported snapshot the caller keeps
/// alive until this returns) instead of a snapshot of its own: `apply --follow`.
pub async fn apply_in(
    spec: &Spec,
    reviewed: Option<&plan::Fingerprints>,
    settings: &Settings,
    stop: Arc<AtomicBool>,
    observer: &dyn Observer,
    imported: Option<&str>,
) -> Result<RunEnd, Error> {
    let source_info = spec.source_db().map_err(Error::refused)?.clone();
    let target_info = spec.target_db().map_err(Error::refused)?.clone();
    let spec_fp = plan::spec_fingerprint(spec);
    // One run of a spec at a time on a target, from before any source job is paused:
    // two runs would restore each other's jobs. Held on a session of its own, so it
    // stays while the coordinator's session is replaced.
    let guard = connect(&target_info, Role::Target, "hypermove run lock")
        .await
        .map_err(Error::runtime)?;
    lock(&guard, &spec_fp).await?;
    let result = apply_locked(
        spec,
        reviewed,
        settings,
        stop,
        observer,
        &guard,
        &source_info,
        &target_info,
        imported,
    )
    .await;
    // However the run ended (done, failed, stale, interrupted), the source jobs this
    // spec's runs paused, this one's or a killed one's, get their state back.
    let restored = super::source_jobs::restore(&source_info, &guard, &spec_fp, observer).await;
    let _ = journal::unlock(&guard, &spec_fp).await;
    match (result, restored) {
        (Ok(end), Ok(_)) => Ok(end),
        (Ok(_), Err(e)) => Err(e),
        (Err(e), Ok(_)) => Err(e),
        (Err(e), Err(r)) => {
            observer.note(&r.to_string());
            Err(e)
        }
    }
}

/// [`apply`], with the run lock held by `guard`.
#[allow(clippy::too_many_arguments)]
async fn apply_locked(
    spec: &Spec,
    reviewed: Option<&plan::Fingerprints>,
    settings: &Settings,
    stop: Arc<AtomicBool>,
    observer: &dyn Observer,
    guard: &Client,
    source_info: &ConnInfo,
    target_info: &ConnInfo,
    imported: Option<&str>,
) -> Result<RunEnd, Error> {
    let (mut source, target) = connect_both(spec, "hypermove coordinator").await?;
    if settings.pause_source_jobs {
        super::source_jobs::pause(
            spec,
            &source,
            guard,
            &plan::spec_fingerprint(spec),
            observer,
        )
        .await?;
    }
    let (tx, snapshot, plan) =
        plan_in(spec, &mut source, &target, settings.snapshot, imported).await?;
    match reviewed {
        Some(reviewed) => {
            let changed = plan::differences(reviewed, &plan.fingerprints);
            if !changed.is_empty() {
                return Err(Error::refused(format!(
                    "the plan is stale, nothing was written: {} since it was reviewed; run `hypermove plan` again",
                    changed.join(", ")
                )));
            }
        }
        None => observer.planned(&plan),
    }
    if !plan.has_changes() {
        return Ok(RunEnd::NothingToDo);
    }
    let key = exec::JournalKey {
        spec: plan.fingerprints.spec.clone(),
        source: plan::combined_fingerprint(&plan.fingerprints.source),
    };
    run_locked(
        target_info,
        Some(source_info.clone()),
        &plan,
        snapshot,
        target,
        Some(tx),
        settings,
        stop,
        observer,
        &key,
    )
    .await
}

/// Run a plan that has been made and checked: the run lock, the journal, parallel
/// steps, verification, and the closing journal records. `apply` and `restore` both
/// come through here. `snapshot_tx` holds the source snapshot open until every
/// window has been read.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    target_info: &ConnInfo,
    source: Option<ConnInfo>,
    plan: &Plan,
    snapshot: Option<String>,
    target: Client,
    snapshot_tx: Option<Transaction<'_>>,
    settings: &Settings,
    stop: Arc<AtomicBool>,
    observer: &dyn Observer,
) -> Result<RunEnd, Error> {
    if !plan.has_changes() {
        return Ok(RunEnd::NothingToDo);
    }
    let key = exec::JournalKey {
        spec: plan.fingerprints.spec.clone(),
        source: plan::combined_fingerprint(&plan.fingerprints.source),
    };
    // One run of a spec at a time on a target: a second one stops here. The lock is
    // held on a session of its own, so it stays while the coordinator's session is
    // replaced, and is released explicitly however the run ends.
    let guard = connect(target_info, Role::Target, "hypermove run lock")
        .await
        .map_err(Error::runtime)?;
    lock(&guard, &key.spec).await?;
    let result = run_locked(
        target_info,
        source,
        plan,
        snapshot,
        target,
        snapshot_tx,
        settings,
        stop,
        observer,
        &key,
    )
    .await;
    let _ = journal::unlock(&guard, &key.spec).await;
    result
}

/// [`run`], with the run lock held.
#[allow(clippy::too_many_arguments)]
async fn run_locked(
    target_info: &ConnInfo,
    source: Option<ConnInfo>,
    plan: &Plan,
    snapshot: Option<String>,
    target: Client,
    snapshot_tx: Option<Transaction<'_>>,
    settings: &Settings,
    stop: Arc<AtomicBool>,
    observer: &dyn Observer,
    key: &exec::JournalKey,
) -> Result<RunEnd, Error> {
    let key = key.clone();
    // The first write of the run: the journal, recording the target as planned.
    journal::begin(&target, &key, &plan.target_inputs, plan.graph.node_count())
        .await
        .map_err(Error::runtime)?;
    if snapshot.is_none() && source.is_some() {
        observer.note("no shared snapshot: each worker reads the source at its own instant");
    }
    let config = ExecConfig {
        source,
        target: target_info.clone(),
        workers: settings.workers,
        snapshot,
        journal: Some(key.clone()),
        stall_timeout: settings.stall_timeout,
        stop,
    };
    observer.started(plan);
    let report = exec::run(plan, &config, &|event| {
        let Event::Finished(step) = event;
        observer.step(plan, step);
    })
    .await;
    // Every window has been read; the snapshot may go.
    if let Some(tx) = snapshot_tx {
        let _ = tx.rollback().await;
    }
    observer.finished(plan, &report);

    // The coordinator's target connection sat idle through the run; if the target
    // restarted meanwhile it is gone, so the closing journal writes use a fresh one.
    let target = if target.is_closed() {
        connect(target_info, Role::Target, "hypermove coordinator")
            .await
            .map_err(Error::runtime)?
    } else {
        target
    };
    let failures: Vec<(&str, &str)> = report.failures().collect();
    journal::record_failures(&target, &key, &failures)
        .await
        .map_err(Error::runtime)?;
    if report.interrupted && failures.is_empty() {
        let done = plan.done.len()
            + report
                .steps
                .iter()
                .filter(|s| matches!(s.outcome, Outcome::Done { .. }))
                .count();
        return Err(Error::Interrupted(format!(
            "interrupted: {done} of {} steps done, every finished one recorded on the target; run `hypermove apply` again to resume",
            plan.graph.node_count()
        )));
    }
    if !failures.is_empty() {
        let skipped = report
            .steps
            .iter()
            .filter(|s| matches!(s.outcome, Outcome::Skipped { .. }))
            .count();
        let mut lines: Vec<String> = failures
            .iter()
            .map(|(id, reason)| format!("step {id} failed: {reason}"))
            .collect();
        lines.push(format!(
            "{} step{} failed, {skipped} skipped because of {}",
            failures.len(),
            if failures.len() == 1 { "" } else { "s" },
            if failures.len() == 1 { "it" } else { "them" }
        ));
        return Err(Error::runtime(lines.join("\n")));
    }
    let verdict = verify::judge(plan, &report);
    observer.verified(&verdict);
    verify::record(&target, &plan.fingerprints.spec, &verdict)
        .await
        .map_err(Error::runtime)?;
    if !verdict.ok() {
        return Ok(RunEnd::Mismatch(verdict));
    }
    // Verified: now, and only now, the target's jobs are enabled.
    let held = exec::run_held(plan, &config, &|event| {
        let Event::Finished(step) = event;
        observer.step(plan, step);
    })
    .await;
    let failures: Vec<String> = held
        .failures()
        .map(|(id, reason)| format!("step {id} failed: {reason}"))
        .collect();
    if !failures.is_empty() {
        let pairs: Vec<(&str, &str)> = held.failures().collect();
        journal::record_failures(&target, &key, &pairs)
            .await
            .map_err(Error::runtime)?;
        return Err(Error::runtime(failures.join("\n")));
    }
    journal::finish(&target, &key)
        .await
        .map_err(Error::runtime)?;
    let tables: Vec<String> = plan.tables.iter().map(|t| t.target.to_string()).collect();
    journal::record_applied(&target, &key, &tables)
        .await
        .map_err(Error::runtime)?;
    Ok(RunEnd::Applied(verdict))
}

/// The tables `apply --restart` would drop: the spec's targets that exist now.
/// Taking the run lock first, so the tables of a run in progress are never listed
/// for dropping. The lock lives as long as the returned connection.
pub async fn restart_candidates(spec: &Spec) -> Result<(Client, Vec<QualifiedName>), Error> {
    let (mut source, target) = connect_both(spec, "hypermove restart").await?;
    lock(&target, &plan::spec_fingerprint(spec)).await?;
    let (tx, _) = crate::pg::session::begin_snapshot(&mut source, false)
        .await
        .map_err(Error::runtime)?;
    let inputs = plan::gather(spec, &tx, &target).await?;
    drop(tx);
    let mut existing = Vec::new();
    for t in &inputs.selection {
        if crate::catalog::relation_exists(&target, &t.target)
            .await
            .map_err(Error::runtime)?
        {
            existing.push(t.target.clone());
        }
    }
    Ok((target, existing))
}

/// Drop the moved tables (without CASCADE: anything else that depends on them stops
/// the restart with the server's message instead of vanishing) and forget the
/// spec's journal, on the connection that holds the run lock.
pub async fn restart(spec: &Spec, target: &Client, tables: &[QualifiedName]) -> Result<(), Error> {
    exec::drop_tables(target, tables)
        .await
        .map_err(Error::runtime)?;
    journal::clean(target, &plan::spec_fingerprint(spec))
        .await
        .map_err(Error::runtime)?;
    journal::unlock(target, &plan::spec_fingerprint(spec))
        .await
        .map_err(Error::runtime)?;
    Ok(())
}

/// Forget the spec's journal on the target (never the moved tables), after restoring
/// the source jobs a run of the spec left paused. Refused while a run of the spec is
/// in progress. Returns the journal rows removed.
pub async fn clean(spec: &Spec, observer: &dyn Observer) -> Result<i64, Error> {
    let target = super::connect_target(spec, "hypermove clean").await?;
    lock(&target, &plan::spec_fingerprint(spec)).await?;
    // Source jobs a killed run left paused get their state back first; if the
    // source cannot be reached, nothing is forgotten.
    if let Ok(source_info) = spec.source_db() {
        if let Err(e) = super::source_jobs::restore(
            source_info,
            &target,
            &plan::spec_fingerprint(spec),
            observer,
        )
        .await
        {
            let _ = journal::unlock(&target, &plan::spec_fingerprint(spec)).await;
            return Err(e);
        }
    }
    let removed = journal::clean(&target, &plan::spec_fingerprint(spec))
        .await
        .map_err(Error::runtime)?;
    let _ = journal::unlock(&target, &plan::spec_fingerprint(spec)).await;
    Ok(removed)
}

/// Take the spec's run lock on the target for this connection's life, or refuse,
/// naming the run that holds it.
async fn lock(target: &Client, spec_fingerprint: &str) -> Result<(), Error> {
    journal::lock(target, spec_fingerprint)
        .await
        .map_err(Error::runtime)?
        .map_err(Error::refused)
}
