//! `status`: what the target's journal records about a spec, the compression state
//! the spec's compressed target tables are in now, the jobs around them on the target
//! and whether each is scheduled, and the source jobs a run left paused.

use crate::Error;
use crate::catalog::{self, CompressionState};
use crate::journal::Recorded;
use crate::journal::{self, Run};
use crate::plan::{self, StepKind};
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
    /// The spec's target hypertables that have compression on, as they are now.
    pub compression: Vec<CompressionState>,
    /// The jobs on the target that touch the spec's target tables (see
    /// `catalog::jobs`), with their state now.
    pub jobs: Vec<catalog::SourceJob>,
    /// Source jobs a run of the spec paused and has not restored yet.
    pub paused_source_jobs: Vec<journal::PausedJob>,
    /// The continuous aggregates its runs created, each with how many of its bucket
    /// ranges' latest checks matched, of how many.
    pub caggs: Vec<(String, usize, usize)>,
}

/// Read the spec's journal on its target, and the compression state of its target
/// tables. Writes nothing.
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
    // The tables the spec names, and those its runs gave compression settings (the
    // ones `include:` selected are known on the target only that way).
    let prefix = format!("{}:", StepKind::Compression.label());
    let compressed_by_runs = journal::steps_with_prefix(&target, &fingerprint, &prefix)
        .await
        .map_err(Error::runtime)?;
    let names = tables_to_report(
        spec.tables.iter().map(|t| t.target.to_string()),
        &prefix,
        &compressed_by_runs,
    );
    let compression = catalog::compression_state(&target, &names)
        .await
        .map_err(Error::runtime)?;
    let mut jobs: Vec<catalog::SourceJob> = Vec::new();
    let server = catalog::server_info(&target)
        .await
        .map_err(Error::runtime)?;
    if server.timescaledb.is_some() {
        for t in &spec.tables {
            for j in catalog::jobs_of(&target, &t.target)
                .await
                .map_err(Error::runtime)?
            {
                if !jobs.iter().any(|o| o.id == j.id) {
                    jobs.push(j);
                }
            }
        }
    }
    jobs.sort_by_key(|j| j.id);
    let paused_source_jobs = journal::paused(&target, &fingerprint)
        .await
        .map_err(Error::runtime)?;
    // The continuous aggregates, from their `cagg:<view>` steps, with the latest
    // verdicts of their bucket ranges.
    let cagg_prefix = format!("{}:", StepKind::ContinuousAggregate.label());
    let caggs = journal::steps_with_prefix(&target, &fingerprint, &cagg_prefix)
        .await
        .map_err(Error::runtime)?
        .into_iter()
        .filter(|id| !id.ends_with(":watermark"))
        .map(|id| {
            let view = id[cagg_prefix.len()..].to_string();
            let own = format!("verify:{view}:");
            let mine: Vec<&Recorded> = checks
                .iter()
                .filter(|c| c.step_id.starts_with(&own))
                .collect();
            let ok = mine.iter().filter(|c| c.ok).count();
            (view, ok, mine.len())
        })
        .collect();
    Ok(Status {
        applied,
        unfinished,
        checks,
        compression,
        jobs,
        paused_source_jobs,
        caggs,
    })
}

/// The target tables whose compression `status` reports: the spec's own, then those
/// named by `compression:<table>` steps, each once, in that order.
fn tables_to_report(
    named: impl Iterator<Item = String>,
    prefix: &str,
    step_ids: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let from_steps = step_ids.iter().filter_map(|id| id.strip_prefix(prefix));
    for name in named.chain(from_steps.map(str::to_string)) {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// `segment_by device_id, order_by "time" DESC; 6 of 8 chunks compressed`: a
/// compressed table's state in one line (`(1 partially)` when rows were written to
/// compressed chunks since).
pub fn describe_compression(c: &CompressionState) -> String {
    let segment_by = if c.segment_by.is_empty() {
        "(none)".to_string()
    } else {
        c.segment_by.join(", ")
    };
    let order_by = if c.order_by.is_empty() {
        "(default)"
    } else {
        c.order_by.as_str()
    };
    let partial = if c.partially_compressed > 0 {
        format!(" ({} partially)", c.partially_compressed)
    } else {
        String::new()
    };
    format!(
        "segment_by {segment_by}, order_by {order_by}; {} of {} chunk{} compressed{partial}",
        c.compressed,
        c.chunks,
        if c.chunks == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::QualifiedName;

    fn state(segment_by: &[&str], order_by: &str, counts: (i64, i64, i64)) -> CompressionState {
        CompressionState {
            table: QualifiedName::new("public", "metrics"),
            segment_by: segment_by.iter().map(|s| s.to_string()).collect(),
            order_by: order_by.into(),
            chunks: counts.0,
            compressed: counts.1,
            partially_compressed: counts.2,
        }
    }

    #[test]
    fn a_compressed_table_in_one_line() {
        assert_eq!(
            describe_compression(&state(&["device_id"], "\"time\" DESC", (8, 6, 0))),
            "segment_by device_id, order_by \"time\" DESC; 6 of 8 chunks compressed"
        );
        assert_eq!(
            describe_compression(&state(&["a", "b"], "", (1, 1, 1))),
            "segment_by a, b, order_by (default); 1 of 1 chunk compressed (1 partially)"
        );
        assert_eq!(
            describe_compression(&state(&[], "x", (0, 0, 0))),
            "segment_by (none), order_by x; 0 of 0 chunks compressed"
        );
    }

    #[test]
    fn the_spec_tables_come_first_then_those_runs_compressed_each_once() {
        let ids = vec![
            "compression:public.metrics".to_string(),
            "compression:\"My Schema\".t".to_string(),
        ];
        assert_eq!(
            tables_to_report(
                ["public.metrics".to_string(), "public.devices".to_string()].into_iter(),
                "compression:",
                &ids
            ),
            vec!["public.metrics", "public.devices", "\"My Schema\".t"]
        );
    }
}
