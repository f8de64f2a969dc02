//! The use cases: apply, verify, status, clean (backup and restore live in `archive`).
//!
//! Each takes a resolved spec and settings, does its work through the lower layers,
//! reports progress through an [`Observer`], and returns a typed outcome or a
//! [`crate::Error`]. Nothing here prints or parses arguments: that is `cli`'s job,
//! so the same use cases can run under another front end.

pub mod apply;
pub mod cutover;
pub mod follow;
pub mod source_jobs;
pub mod status;
pub mod verify;

use std::time::Duration;

use tokio_postgres::Client;

use crate::Error;
use crate::exec::{RunReport, StepReport};
use crate::pg::{Role, connect};
use crate::plan::Plan;
use crate::spec::Spec;
use crate::verify::Verdict;

/// What a running use case tells whoever shows its progress. Every method has a
/// default that ignores the event.
pub trait Observer: Sync {
    /// The plan about to run was made (apply shows it when it was not reviewed first).
    fn planned(&self, _plan: &Plan) {}
    /// The steps begin (progress bars size themselves from the plan).
    fn started(&self, _plan: &Plan) {}
    /// One step finished, failed or was skipped.
    fn step(&self, _plan: &Plan, _step: &StepReport) {}
    /// Every step has finished or been skipped.
    fn finished(&self, _plan: &Plan, _report: &RunReport) {}
    /// The verdict, before it is recorded on the target.
    fn verified(&self, _verdict: &Verdict) {}
    /// Something worth knowing that is not an error.
    fn note(&self, _message: &str) {}
}

/// An observer that shows nothing.
pub struct Quiet;

impl Observer for Quiet {}

/// How a run goes, beyond what the plan says: worked out once, from the spec and
/// the command line, by the front end.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Steps at once.
    pub workers: usize,
    /// A COPY without progress for this long is cancelled and retried.
    pub stall_timeout: Duration,
    /// Share one exported source snapshot between workers.
    pub snapshot: bool,
    /// Pause the source's scheduled jobs that touch the moved tables for the move
    /// (`apply --pause-source-jobs`), and restore them afterwards.
    pub pause_source_jobs: bool,
}

impl Settings {
    /// The spec's settings, with what the command line overrides.
    pub fn resolve(
        spec: &Spec,
        workers: Option<u16>,
        stall_timeout: Duration,
        no_snapshot: bool,
    ) -> Self {
        Settings {
            workers: workers.map(usize::from).unwrap_or(spec.workers),
            stall_timeout,
            snapshot: !no_snapshot,
            pause_source_jobs: false,
        }
    }
}

/// Connect to the spec's source and target databases.
pub async fn connect_both(spec: &Spec, app: &str) -> Result<(Client, Client), Error> {
    let source = connect(spec.source_db().map_err(Error::refused)?, Role::Source, app)
        .await
        .map_err(Error::runtime)?;
    let target = connect_target(spec, app).await?;
    Ok((source, target))
}

/// Connect to the spec's target database, with the session settings every catalog
/// read and comparison needs.
pub async fn connect_target(spec: &Spec, app: &str) -> Result<Client, Error> {
    crate::pg::session::open(spec.target_db().map_err(Error::refused)?, Role::Target, app)
        .await
        .map_err(Error::runtime)
}
