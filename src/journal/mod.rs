//! The journal: hypermove's own schema `hypermove` on the target, and everything that
//! reads or writes it. The target database is the journal, so a step's work and its
//! "done" row commit in one transaction, and a crash leaves nothing half-counted.
//!
//! - `run`: one row per run (a spec applied from one source state), with the target
//!   as the plan saw it when the run began, so a resume rebuilds the same plan;
//! - `step`: one row per finished step, written in the step's own transaction;
//! - `failure`: the root causes of failed steps, for `status`;
//! - `verification`: the latest verdict of every window and table total;
//! - `applied`: moves that completed and verified;
//! - `paused_source_job`: source jobs paused for a move, until they are restored.
//!
//! Every query is a `.sql` file beside this module. The journal knows nothing of
//! plans or verdicts: callers pass plain values, so plan, exec and verify can all use
//! it without depending on one another.

use serde::Serialize;
use tokio_postgres::{Client, GenericClient, Transaction};

use crate::pg::describe_error;

mod paused;

pub use paused::{PausedJob, forget_paused, paused, record_paused};

/// A journal query failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", describe_error(source))]
pub struct JournalError {
    /// What was being done.
    pub what: &'static str,
    /// The server's or driver's error.
    #[source]
    pub source: tokio_postgres::Error,
}

type Result<T> = std::result::Result<T, JournalError>;

fn failed(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> JournalError {
    move |source| JournalError { what, source }
}

/// The run a journal row belongs to: a spec applied from one source state.
#[derive(Debug, Clone)]
pub struct JournalKey {
    /// The spec's fingerprint.
    pub spec: String,
    /// The source state's fingerprint.
    pub source: String,
}

/// An unfinished run of a spec recorded on a target.
#[derive(Debug, Clone)]
pub struct Run {
    /// The source state the run began from.
    pub source_fingerprint: String,
    /// The target as the plan saw it when the run began (JSON).
    pub target_inputs: String,
    /// Steps in the run's plan.
    pub steps: i32,
    /// IDs of the steps it finished.
    pub done: Vec<String>,
    /// `step: error` for steps that failed and are not done since.
    pub failures: Vec<String>,
}

/// One recorded verdict, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// The verify step.
    pub step_id: String,
    /// `count` or `checksum`.
    pub level: String,
    /// Whether it matched.
    pub ok: bool,
    /// The source's answers, space-separated.
    pub source: Option<String>,
    /// The target's answers, space-separated.
    pub target: Option<String>,
    /// When, in UTC.
    pub verified_at: String,
}

/// Whether the journal exists on this database (reading never creates it).
async fn exists(client: &impl GenericClient) -> Result<bool> {
    Ok(client
        .query_one("SELECT to_regclass('hypermove.run') IS NOT NULL", &[])
        .await
        .map_err(failed("reading the journal"))?
        .get(0))
}

/// Create the journal's schema and tables if they are missing.
pub async fn ensure(target: &Client) -> Result<()> {
    target
        .batch_execute(include_str!("sql/schema.sql"))
        .await
        .map_err(failed("creating the journal on the target"))
}

/// Another session holds a spec's run lock: `who` names that run (its id and when it
/// began) and the server process holding the lock, as far as they can be found.
#[derive(Debug, thiserror::Error)]
#[error(
    "another hypermove run of this spec is in progress on the target{who}; nothing was written: wait for it to finish, or stop it first"
)]
pub struct RunLocked {
    /// ` (run …, started …; server process … from …)`, or empty.
    pub who: String,
}

/// Take the spec's run lock on the target, held for as long as this session lives, so
/// that two runs of one spec (two `apply`s, or an `apply` and a `clean`) never work on
/// the same target at once. `Ok(Err(_))` when another session holds it.
pub async fn lock(
    target: &Client,
    spec_fingerprint: &str,
) -> Result<std::result::Result<(), RunLocked>> {
    // A run that has just ended may still hold the lock for a moment: the server
    // process of a session outlives its client briefly. So a few tries, 2 s in all,
    // before calling the lock taken.
    for attempt in 0..10 {
        let locked: bool = target
            .query_one(include_str!("sql/run_lock.sql"), &[&spec_fingerprint])
            .await
            .map_err(failed("taking the run lock on the target"))?
            .get("locked");
        if locked {
            return Ok(Ok(()));
        }
        if attempt < 9 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    let holder = target
        .query_opt(
            include_str!("sql/run_lock_holder.sql"),
            &[&spec_fingerprint],
        )
        .await
        .map_err(failed("finding who holds the run lock"))?;
    let run = if exists(target).await? {
        target
            .query_opt(include_str!("sql/run_latest.sql"), &[&spec_fingerprint])
            .await
            .map_err(failed("reading the journal"))?
    } else {
        None
    };
    let mut who = Vec::new();
    if let Some(r) = &run {
        who.push(format!(
            "run {}, started {}",
            r.get::<_, String>("run_id"),
            r.get::<_, String>("started")
        ));
    }
    if let Some(h) = &holder {
        who.push(format!(
            "server process {} from {}, connected since {}",
            h.get::<_, i32>("pid"),
            h.get::<_, String>("client"),
            h.get::<_, String>("session_start")
        ));
    }
    Ok(Err(RunLocked {
        who: if who.is_empty() {
            String::new()
        } else {
            format!(" ({})", who.join("; "))
        },
    }))
}

/// Release the spec's run lock held by this session, so that the next run of the
/// spec (or a `clean`) started right after this one finds it free.
pub async fn unlock(target: &Client, spec_fingerprint: &str) -> Result<()> {
    target
        .query_one(include_str!("sql/run_unlock.sql"), &[&spec_fingerprint])
        .await
        .map(|_| ())
        .map_err(failed("releasing the run lock on the target"))
}

/// Create the journal if needed and record that a run began (a resumed run keeps
/// its original record).
pub async fn begin(
    target: &Client,
    key: &JournalKey,
    target_inputs: &str,
    steps: usize,
) -> Result<()> {
    ensure(target).await?;
    target
        .execute(
            include_str!("sql/run_begin.sql"),
            &[&key.spec, &key.source, &target_inputs, &(steps as i32)],
        )
        .await
        .map(|_| ())
        .map_err(failed("starting the journal on the target"))
}

/// Record a finished step inside the transaction that did its work.
pub async fn step_done(
    tx: &Transaction<'_>,
    key: &JournalKey,
    step_id: &str,
    rows: u64,
    bytes: u64,
    row_hash: Option<&str>,
) -> Result<()> {
    tx.execute(
        include_str!("sql/step_done.sql"),
        &[
            &key.spec,
            &key.source,
            &step_id,
            &(rows as i64),
            &(bytes as i64),
            &row_hash,
        ],
    )
    .await
    .map(|_| ())
    .map_err(failed("target: recording the step"))
}

/// A copy step's record: the rows it wrote and the hash of the rows it streamed
/// (`None` for a step recorded without one, by a version that took none).
pub async fn copied(
    target: &Client,
    key: &JournalKey,
    step_id: &str,
) -> Result<Option<(u64, Option<String>)>> {
    target
        .query_opt(
            include_str!("sql/step_copied.sql"),
            &[&key.spec, &key.source, &step_id],
        )
        .await
        .map(|row| row.map(|r| (r.get::<_, i64>(0) as u64, r.get(1))))
        .map_err(failed("target: reading the journal"))
}

/// Whether the journal holds the step: after a connection was lost during COMMIT,
/// the commit may or may not have happened, and the journal says which.
pub async fn step_recorded(target: &Client, key: &JournalKey, step_id: &str) -> Result<bool> {
    target
        .query_opt(
            include_str!("sql/step_exists.sql"),
            &[&key.spec, &key.source, &step_id],
        )
        .await
        .map(|row| row.is_some())
        .map_err(failed("target: reading the journal"))
}

/// Keep the root causes of a run's failures, for `status`.
pub async fn record_failures(
    target: &Client,
    key: &JournalKey,
    failures: &[(&str, &str)],
) -> Result<()> {
    for (step, error) in failures {
        target
            .execute(
                include_str!("sql/failure.sql"),
                &[&key.spec, &key.source, step, error],
            )
            .await
            .map_err(failed("recording a failure in the journal"))?;
    }
    Ok(())
}

/// Mark a run finished: every step done and verified.
pub async fn finish(target: &Client, key: &JournalKey) -> Result<()> {
    target
        .execute(
            include_str!("sql/run_finish.sql"),
            &[&key.spec, &key.source],
        )
        .await
        .map(|_| ())
        .map_err(failed("finishing the journal"))
}

/// Record that this spec's move, from this source state, completed and verified on
/// the target, so planning it again has nothing to do.
pub async fn record_applied(target: &Client, key: &JournalKey, tables: &[String]) -> Result<()> {
    ensure(target).await?;
    target
        .execute(
            include_str!("sql/applied_insert.sql"),
            &[&key.spec, &key.source, &tables],
        )
        .await
        .map(|_| ())
        .map_err(failed("recording the move on the target"))
}

/// Completed moves recorded on a target: (spec fingerprint, source fingerprint).
pub async fn applied(client: &impl GenericClient) -> Result<Vec<(String, String)>> {
    if !exists(client).await? {
        return Ok(Vec::new());
    }
    Ok(client
        .query(include_str!("sql/applied.sql"), &[])
        .await
        .map_err(failed("reading hypermove.applied"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// IDs of a spec's finished steps (of any run) that begin with `prefix`; none when
/// there is no journal.
pub async fn steps_with_prefix(
    client: &impl GenericClient,
    spec_fingerprint: &str,
    prefix: &str,
) -> Result<Vec<String>> {
    if !exists(client).await? {
        return Ok(Vec::new());
    }
    Ok(client
        .query(
            include_str!("sql/steps_with_prefix.sql"),
            &[&spec_fingerprint, &prefix],
        )
        .await
        .map_err(failed("reading hypermove.step"))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Unfinished runs of a spec, oldest first; none when there is no journal.
pub async fn unfinished_runs(
    client: &impl GenericClient,
    spec_fingerprint: &str,
) -> Result<Vec<Run>> {
    if !exists(client).await? {
        return Ok(Vec::new());
    }
    Ok(client
        .query(include_str!("sql/runs.sql"), &[&spec_fingerprint])
        .await
        .map_err(failed("reading hypermove.run"))?
        .iter()
        .map(|r| Run {
            source_fingerprint: r.get("source_fingerprint"),
            target_inputs: r.get("target_inputs"),
            steps: r.get("steps"),
            done: r.get("done"),
            failures: r.get("failures"),
        })
        .collect())
}

/// One verdict to keep.
#[derive(Debug, Clone, Copy)]
pub struct VerdictRow<'a> {
    /// The verify step.
    pub step_id: &'a str,
    /// `count`, `checksum`, …
    pub level: &'a str,
    /// Ran and matched.
    pub ok: bool,
    /// The source's answers, space-separated.
    pub source_answer: Option<&'a str>,
    /// The target's answers, space-separated.
    pub target_answer: Option<&'a str>,
}

/// Keep a verification's verdicts (the latest per step), for `status`, in one
/// statement.
pub async fn record_verdicts(
    target: &Client,
    spec_fingerprint: &str,
    verdicts: &[VerdictRow<'_>],
) -> Result<()> {
    let ids: Vec<&str> = verdicts.iter().map(|v| v.step_id).collect();
    let levels: Vec<&str> = verdicts.iter().map(|v| v.level).collect();
    let oks: Vec<bool> = verdicts.iter().map(|v| v.ok).collect();
    let sources: Vec<Option<&str>> = verdicts.iter().map(|v| v.source_answer).collect();
    let targets: Vec<Option<&str>> = verdicts.iter().map(|v| v.target_answer).collect();
    target
        .execute(
            include_str!("sql/verdict_record.sql"),
            &[&spec_fingerprint, &ids, &levels, &oks, &sources, &targets],
        )
        .await
        .map(|_| ())
        .map_err(failed("recording the verification on the target"))
}

/// The recorded verdicts of a spec, or none if nothing was recorded yet.
pub async fn verdicts(target: &Client, spec_fingerprint: &str) -> Result<Vec<Recorded>> {
    if !exists(target).await? {
        return Ok(Vec::new());
    }
    Ok(target
        .query(include_str!("sql/verdicts.sql"), &[&spec_fingerprint])
        .await
        .map_err(failed("reading the recorded verdicts"))?
        .iter()
        .map(|r| Recorded {
            step_id: r.get("step_id"),
            level: r.get("level"),
            ok: r.get("ok"),
            source: r.get("source_answer"),
            target: r.get("target_answer"),
            verified_at: r.get("verified_at"),
        })
        .collect())
}

/// Forget a spec on the target: runs, steps, completion and verdicts. Returns the
/// number of journal rows removed; the moved tables are not touched.
pub async fn clean(target: &Client, spec_fingerprint: &str) -> Result<i64> {
    if !exists(target).await? {
        return Ok(0);
    }
    // Tables added by a newer hypermove must exist before the delete names them.
    ensure(target).await?;
    Ok(target
        .query_one(include_str!("sql/clean.sql"), &[&spec_fingerprint])
        .await
        .map_err(failed("cleaning the journal"))?
        .get(0))
}
