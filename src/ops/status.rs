//! `status`: what the target's journal records about a spec.

use crate::Error;
use crate::journal::Recorded;
use crate::journal::{self, Run};
use crate::plan;
use crate::spec::Spec;

/// The journal's record of one spec on its target.
#[derive(Debug)]
pub struct Status {
    /// The move completed and verified.
    pub applied: bool,
    /// Runs that began and did not finish.
    pub unfinished: Vec<Run>,
    /// The latest verdict of every window and table total.
    pub checks: Vec<Recorded>,
}

/// Read the spec's journal on its target. Writes nothing.
pub async fn status(spec: &Spec) -> Result<Status, Error> {
    let target = super::connect_target(spec, "hypermove status").await?;
    let fingerprint = plan::spec_fingerprint(spec);
    let applied = journal::applied(&target)
        .await
        .map_err(Error::runtime)?
        .iter()
        .any(|(s, _)| *s == fingerprint);
    let checks = journal::verdicts(&target, &fingerprint)
        .await
        .map_err(Error::runtime)?;
    let unfinished = journal::unfinished_runs(&target, &fingerprint)
        .await
        .map_err(Error::runtime)?;
    Ok(Status {
        applied,
        unfinished,
        checks,
    })
}
