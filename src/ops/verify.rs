//! `verify`: the same windows and queries as apply's verification, on their own, in
//! one shared source snapshot; optionally the differing rows of failing windows.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::{Observer, Settings, connect_both};
use crate::Error;
use crate::exec::{self, Event, ExecConfig};
use crate::plan::{self, Plan};
use crate::spec::{Spec, VerifyLevel};
use crate::verify::{self, RowDiff, Verdict};

/// What a verification found.
#[derive(Debug)]
pub struct Verified {
    /// The verification plan that ran (its probes, for reports).
    pub plan: Plan,
    /// One verdict per window and table total.
    pub verdict: Verdict,
    /// Differing rows of failing windows, when asked for.
    pub diffs: Vec<RowDiff>,
    /// Some checks could not run at all.
    pub incomplete: bool,
}

/// Verify the spec's tables at `level` (`none` means checksum: a verify that checks
/// nothing would be a pass that proves nothing). With `diff`, list up to that many
/// differing rows per failing window. The verdicts are kept in the target's journal.
pub async fn verify(
    spec: &Spec,
    level: VerifyLevel,
    diff: Option<usize>,
    settings: &Settings,
    observer: &dyn Observer,
) -> Result<Verified, Error> {
    let level = match level {
        VerifyLevel::None => VerifyLevel::Checksum,
        other => other,
    };
    crate::fault::pause(crate::fault::PAUSE_BEFORE_VERIFY).await;
    let (mut source, target) = connect_both(spec, "hypermove verify").await?;
    let (tx, snapshot) = crate::pg::session::begin_snapshot(&mut source, true)
        .await
        .map_err(Error::runtime)?;
    let inputs = plan::gather(spec, &tx, &target).await?;
    let plan = plan::build_verification(spec, &inputs, level)?;
    let config = ExecConfig {
        source: Some(spec.source_db().map_err(Error::refused)?.clone()),
        target: spec.target_db().map_err(Error::refused)?.clone(),
        workers: settings.workers,
        snapshot,
        journal: None,
        stall_timeout: settings.stall_timeout,
        stop: Arc::new(AtomicBool::new(false)),
    };
    observer.started(&plan);
    let report = exec::run(&plan, &config, &|event| {
        let Event::Finished(step) = event;
        observer.step(&plan, step);
    })
    .await;
    observer.finished(&plan, &report);
    let verdict = verify::judge(&plan, &report);
    // The diff reads the source in the same snapshot as the probes did, so the
    // coordinator's transaction stays open until it is done.
    let diffs = match diff {
        Some(limit) if !verdict.ok() => verify::diff(
            &plan,
            &verdict,
            spec.source_db().map_err(Error::refused)?,
            config.snapshot.as_deref(),
            spec.target_db().map_err(Error::refused)?,
            limit,
        )
        .await
        .map_err(Error::runtime)?,
        _ => Vec::new(),
    };
    let _ = tx.rollback().await;
    verify::record(&target, &plan.fingerprints.spec, &verdict)
        .await
        .map_err(Error::runtime)?;
    Ok(Verified {
        incomplete: report.failures().next().is_some(),
        plan,
        verdict,
        diffs,
    })
}
