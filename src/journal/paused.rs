//! The source jobs `apply --pause-source-jobs` paused, as the journal on the target
//! records them: each is written before its job is paused and removed once the job
//! is restored, so whatever a killed run leaves paused, the next `apply` (or a
//! `clean`) finds here and restores.

use tokio_postgres::{Client, GenericClient};

use super::{Result, ensure, failed};

/// A source job paused for a move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PausedJob {
    /// Its job ID on the source.
    pub job_id: i32,
    /// The job, named for messages.
    pub job: String,
    /// Whether it was scheduled before it was paused: the state to restore.
    pub scheduled_before: bool,
}

/// Record that a source job is about to be paused (a job recorded already keeps the
/// state recorded first).
pub async fn record_paused(target: &Client, spec_fingerprint: &str, job: &PausedJob) -> Result<()> {
    ensure(target).await?;
    target
        .execute(
            include_str!("sql/paused_record.sql"),
            &[
                &spec_fingerprint,
                &job.job_id,
                &job.job,
                &job.scheduled_before,
            ],
        )
        .await
        .map(|_| ())
        .map_err(failed("recording a paused source job in the journal"))
}

/// The source jobs paused for a spec's move and not restored yet.
/// Reading never creates the journal.
pub async fn paused(target: &impl GenericClient, spec_fingerprint: &str) -> Result<Vec<PausedJob>> {
    // A journal older than this table has none.
    let present: bool = target
        .query_one(
            "SELECT to_regclass('hypermove.paused_source_job') IS NOT NULL",
            &[],
        )
        .await
        .map_err(failed("reading the journal"))?
        .get(0);
    if !present {
        return Ok(Vec::new());
    }
    Ok(target
        .query(include_str!("sql/paused_list.sql"), &[&spec_fingerprint])
        .await
        .map_err(failed("reading the paused source jobs from the journal"))?
        .iter()
        .map(|r| PausedJob {
            job_id: r.get("job_id"),
            job: r.get("job"),
            scheduled_before: r.get("scheduled_before"),
        })
        .collect())
}

/// Forget a paused source job once it is restored.
pub async fn forget_paused(target: &Client, spec_fingerprint: &str, job_id: i32) -> Result<()> {
    target
        .execute(
            include_str!("sql/paused_forget.sql"),
            &[&spec_fingerprint, &job_id],
        )
        .await
        .map(|_| ())
        .map_err(failed("forgetting a restored source job in the journal"))
}
