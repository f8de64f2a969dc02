//! `apply --pause-source-jobs`: the source's scheduled jobs that touch moved tables
//! (retention, compression, refresh policies, user jobs: see `catalog::jobs`) are
//! paused for the move, since one that runs mid-move drops or rewrites chunks under
//! its snapshot, and restored afterwards, however the run ends.
//!
//! The journal on the target records each job before it is paused, with its state,
//! and forgets it once restored: a run killed outright (kill -9, a second Ctrl-C,
//! a crash) leaves the record, and the next `apply` of the spec (resumed or not) or
//! `hypermove clean` restores the job. While a record stands, plans read the job as
//! it was before (see `plan::gather`), so a resumed run plans what the first did.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::Observer;
use crate::Error;
use crate::catalog;
use crate::journal::{self, PausedJob};
use crate::pg::{ConnInfo, Role, connect, quote_ident};
use crate::spec::Spec;

/// How long a job already running when it was paused may take to finish before the
/// move refuses to start under it.
const RUNNING_WAIT: Duration = Duration::from_secs(120);

/// Pause the source's scheduled jobs that touch the spec's tables, each recorded in
/// the journal first; then wait for any run of them already under way to end.
/// Returns the jobs paused now (a job an earlier run paused is already recorded).
pub(super) async fn pause(
    spec: &Spec,
    source: &Client,
    journal: &Client,
    spec_fingerprint: &str,
    observer: &dyn Observer,
) -> Result<Vec<PausedJob>, Error> {
    let server = catalog::server_info(source).await.map_err(Error::runtime)?;
    let Some(ts) = server.timescaledb_schema.clone() else {
        return Ok(Vec::new());
    };
    let selection = crate::plan::select(spec, source)
        .await
        .map_err(Error::runtime)?;
    let mut jobs: BTreeMap<i32, catalog::SourceJob> = BTreeMap::new();
    for t in &selection {
        for j in catalog::jobs_of(source, &t.source)
            .await
            .map_err(Error::runtime)?
        {
            jobs.entry(j.id).or_insert(j);
        }
    }
    let recorded: Vec<i32> = journal::paused(journal, spec_fingerprint)
        .await
        .map_err(Error::runtime)?
        .iter()
        .map(|p| p.job_id)
        .collect();
    let mut paused = Vec::new();
    for j in jobs.values().filter(|j| j.scheduled) {
        let record = PausedJob {
            job_id: j.id,
            job: j.describe(),
            scheduled_before: true,
        };
        // Recorded before it is paused: a crash in between restores a job that was
        // never paused, which is harmless; the other way round would not be.
        journal::record_paused(journal, spec_fingerprint, &record)
            .await
            .map_err(Error::runtime)?;
        set_scheduled(source, &ts, j.id, false).await?;
        if !recorded.contains(&j.id) {
            observer.note(&format!("paused source {} for the move", record.job));
            paused.push(record);
        }
    }
    // Pausing stops the next run, not one under way: wait for those to end.
    let ids: Vec<i32> = jobs.keys().copied().collect();
    let started = Instant::now();
    let mut said = false;
    loop {
        let running: Vec<i32> = source
            .query(include_str!("sql/jobs_running.sql"), &[&ids])
            .await
            .map_err(|e| Error::runtime(crate::pg::describe_error(&e)))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if running.is_empty() {
            break;
        }
        let named: Vec<String> = running.iter().map(|id| jobs[id].describe()).collect();
        if started.elapsed() > RUNNING_WAIT {
            return Err(Error::refused(format!(
                "source {} still running {}s after it was paused; nothing was moved: run `hypermove apply` again once it has finished",
                named.join(", "),
                RUNNING_WAIT.as_secs()
            )));
        }
        if !said {
            observer.note(&format!(
                "waiting for source {} to finish its current run",
                named.join(", ")
            ));
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(paused)
}

/// Restore every source job the journal records as paused for this spec to its
/// state before, and forget it. A job that is gone from the source is forgotten
/// with a note. Returns the jobs restored; an error leaves the records that could
/// not be restored for the next `apply` or `clean`.
pub async fn restore(
    source_info: &ConnInfo,
    journal: &Client,
    spec_fingerprint: &str,
    observer: &dyn Observer,
) -> Result<Vec<PausedJob>, Error> {
    let recorded = journal::paused(journal, spec_fingerprint)
        .await
        .map_err(Error::runtime)?;
    if recorded.is_empty() {
        return Ok(Vec::new());
    }
    let left = |e: String| {
        Error::runtime(format!(
            "{e}; the source jobs paused for the move ({}) are still recorded on the target: the next `hypermove apply` or `hypermove clean` of this spec restores them",
            recorded
                .iter()
                .map(|p| p.job.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    let source = connect(source_info, Role::Source, "hypermove restore jobs")
        .await
        .map_err(|e| left(e.to_string()))?;
    let server = catalog::server_info(&source)
        .await
        .map_err(|e| left(e.to_string()))?;
    let ts = server.timescaledb_schema.unwrap_or_else(|| "public".into());
    let mut restored = Vec::new();
    for p in recorded.iter() {
        let exists: bool = source
            .query_one(include_str!("sql/job_exists.sql"), &[&p.job_id])
            .await
            .map_err(|e| left(crate::pg::describe_error(&e)))?
            .get(0);
        if exists {
            set_scheduled(&source, &ts, p.job_id, p.scheduled_before)
                .await
                .map_err(|e| left(e.to_string()))?;
            observer.note(&format!(
                "restored source {} ({})",
                p.job,
                if p.scheduled_before {
                    "scheduled"
                } else {
                    "paused"
                }
            ));
        } else {
            observer.note(&format!(
                "source {} is gone from the source; nothing to restore",
                p.job
            ));
        }
        journal::forget_paused(journal, spec_fingerprint, p.job_id)
            .await
            .map_err(|e| left(e.to_string()))?;
        restored.push(p.clone());
    }
    Ok(restored)
}

/// `alter_job(id, scheduled => …)` on the source.
async fn set_scheduled(
    source: &Client,
    ts: &str,
    job_id: i32,
    scheduled: bool,
) -> Result<(), Error> {
    let sql = include_str!("sql/alter_job_scheduled.sql").replace("{ts}", &quote_ident(ts));
    source
        .query_one(&sql, &[&job_id, &scheduled])
        .await
        .map(|_| ())
        .map_err(|e| {
            Error::runtime(format!(
                "source: setting job {job_id} scheduled => {scheduled}: {}",
                crate::pg::describe_error(&e)
            ))
        })
}
