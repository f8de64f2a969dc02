//! Compression (columnstore) carried to the target: its settings, which target
//! chunks end compressed, and the compression and retention policies.
//!
//! A target chunk is compressed when every source chunk that overlaps its time slice
//! is compressed (the compressed part of the source arrives compressed, the rest
//! does not; later chunks are the recreated policy's to compress). Each slice's
//! `compress:` step waits only for the copy windows that fill it, and the windows of
//! a compressed target are copied in time order, so slices are compressed one after
//! another as they fill: the target never holds the whole table uncompressed.
//! Keys and indexes come after the data and its compression (TimescaleDB builds them
//! on compressed hypertables); only foreign keys come before the data on targets
//! older than TimescaleDB 2.20, which refuse them on compressed chunks.

use super::shape::Shape;
use super::{Inputs, Probe};
use crate::catalog::{JobPolicy, JobPolicyAfter, JobPolicyKind, Table, TimeType};
use crate::pg::{QualifiedName, quote_ident, quote_literal};
use crate::spec::{OnUnsupported, Spec, TableSpec, VerifyLevel};

/// The compression a target hypertable gets.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TargetCompression {
    /// `segmentby` columns.
    pub(super) segment_by: Vec<String>,
    /// `orderby` as SQL; empty takes TimescaleDB's default.
    pub(super) order_by: String,
    /// `compress_chunk_time_interval`, as the source has it.
    pub(super) chunk_interval: Option<String>,
    /// Whether the settings are the source's own (then the target's must equal them).
    pub(super) as_source: bool,
    /// Target time slices `[lo, hi)` (internal units) that end compressed.
    pub(super) slices: Vec<(i64, i64)>,
}

/// What a table's move does about compression and policies.
#[derive(Debug, Clone, Default)]
pub(super) struct Decision {
    /// Compression on the target, if any.
    pub(super) compression: Option<TargetCompression>,
    /// Policies to recreate on the target.
    pub(super) policies: Vec<JobPolicy>,
    /// What is not carried, said out loud.
    pub(super) warnings: Vec<String>,
}

/// The width of the target's time slices, in internal units: the chunk interval the
/// plan gives the hypertable, or TimescaleDB's default of 7 days for time columns.
fn slice_width(shape: &Shape) -> Option<i64> {
    let Shape::Hypertable {
        interval,
        time_type,
        ..
    } = shape
    else {
        return None;
    };
    match (interval, time_type) {
        (Some(i), _) => Some(i.width()),
        (None, TimeType::Integer) => None,
        (None, _) => Some(7 * 24 * 3600 * 1_000_000),
    }
}

/// The target slices wholly covered by compressed source chunks: every source chunk
/// that overlaps the slice is compressed, and at least one does.
fn compressed_slices(table: &Table, width: i64) -> Vec<(i64, i64)> {
    let Some(h) = &table.hypertable else {
        return Vec::new();
    };
    let mut slices: std::collections::BTreeMap<i64, bool> = std::collections::BTreeMap::new();
    for c in &h.chunks {
        let (Some(lo), Some(hi)) = (c.range_start, c.range_end) else {
            // An open-ended chunk spans every slice on its open side: nothing there
            // can be called wholly compressed.
            continue;
        };
        let first = lo.div_euclid(width);
        let last = (hi - 1).div_euclid(width);
        for k in first..=last {
            let e = slices.entry(k).or_insert(true);
            *e = *e && c.compressed;
        }
    }
    slices
        .into_iter()
        .filter(|(_, all)| *all)
        .map(|(k, _)| (k * width, (k + 1) * width))
        .collect()
}

/// Whether the window `[lo, hi)` lies wholly inside the slices that end compressed
/// (disjoint `[lo, hi)` pairs): its rows may then be loaded compressed. An open end
/// is never covered.
pub(super) fn covered(slices: &[(i64, i64)], lo: Option<i64>, hi: Option<i64>) -> bool {
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return false;
    };
    let inside: i128 = slices
        .iter()
        .map(|(s_lo, s_hi)| (i128::from(hi.min(*s_hi)) - i128::from(lo.max(*s_lo))).max(0))
        .sum();
    lo < hi && inside == i128::from(hi) - i128::from(lo)
}

/// Decide a table's compression and policies on the target: the source's, changed by
/// the spec's `compression:` block; refused by name when the target cannot compress
/// (unless `on_unsupported: warn`).
pub(super) fn decide(
    spec: &Spec,
    inputs: &Inputs,
    t: &TableSpec,
    table: &Table,
    shape: &Shape,
) -> Result<Decision, String> {
    let source = table
        .hypertable
        .as_ref()
        .and_then(|h| h.compression.as_ref());
    let source_policies: &[JobPolicy] = table
        .hypertable
        .as_ref()
        .map(|h| h.policies.as_slice())
        .unwrap_or_default();
    let wanted = t.compression.as_ref();
    let enabled = wanted
        .and_then(|c| c.enabled)
        .unwrap_or(source.is_some() || wanted.is_some());
    let mut out = Decision::default();
    let Some(width) = slice_width(shape) else {
        if matches!(shape, Shape::Plain) {
            let mut dropped: Vec<String> = Vec::new();
            if source.is_some() {
                dropped.push("compression".into());
            }
            dropped.extend(source_policies.iter().map(describe_policy));
            if !dropped.is_empty() {
                out.warnings.push(format!(
                    "{}: {} not carried over: the spec makes it a plain table",
                    t.source,
                    dropped.join(", ")
                ));
            }
            if wanted.is_some() {
                return Err(
                    "`compression:` needs a hypertable target, and this one is a plain table"
                        .into(),
                );
            }
        }
        return Ok(out);
    };
    // What needs TimescaleDB's community edition on the target: compression, and
    // both kinds of policy.
    let retention: Vec<JobPolicy> = source_policies
        .iter()
        .filter(|p| p.kind == JobPolicyKind::Retention)
        .cloned()
        .collect();
    let license = inputs.target_server.timescaledb_license.as_deref();
    if license != Some("timescale") && (enabled || !retention.is_empty()) {
        let what = match (enabled, source.is_some(), retention.is_empty()) {
            (true, true, true) => "it is compressed on the source".to_string(),
            (true, false, true) => "the spec compresses it".to_string(),
            (true, true, false) => {
                "it is compressed on the source and has a retention policy".to_string()
            }
            (true, false, false) => {
                "the spec compresses it and it has a retention policy".to_string()
            }
            (false, _, _) => "it has a retention policy on the source".to_string(),
        };
        let why = format!(
            "compression and policies on the target need TimescaleDB's community edition, and the target's is licensed `{}` (TimescaleDB {})",
            license.unwrap_or("unknown"),
            inputs
                .target_server
                .timescaledb
                .as_deref()
                .or(inputs.target_server.timescaledb_available.as_deref())
                .unwrap_or("not installed"),
        );
        if spec.on_unsupported == OnUnsupported::Warn {
            out.warnings.push(format!(
                "{}: moved uncompressed and without its policies: {why} (on_unsupported: warn)",
                t.source
            ));
            return Ok(out);
        }
        return Err(format!(
            "{what}, but {why}; `on_unsupported: warn` moves it uncompressed and without policies"
        ));
    }
    // Retention is the table's whatever its compression.
    out.policies.extend(retention);
    if !enabled {
        if source.is_some() {
            out.warnings.push(format!(
                "{}: moved uncompressed, without its compression policy (compression: {{enabled: false}})",
                t.source
            ));
        }
        return Ok(out);
    }
    let segment_by = wanted
        .and_then(|c| c.segment_by.clone())
        .or_else(|| source.map(|s| s.segment_by.clone()))
        .unwrap_or_default();
    let order_by = wanted
        .and_then(|c| c.order_by.clone())
        .or_else(|| source.map(|s| s.order_by.clone()))
        .unwrap_or_default();
    if let Some(missing) = segment_by
        .iter()
        .find(|c| !table.columns.iter().any(|col| &col.name == *c))
    {
        return Err(format!(
            "compression segment_by names `{missing}`, which is not a column of {}",
            t.source
        ));
    }
    let as_source = source.is_some_and(|s| s.segment_by == segment_by && s.order_by == order_by);
    let compress_after = wanted.and_then(|c| c.compress_after.clone());
    match (
        compress_after,
        source_policies
            .iter()
            .find(|p| p.kind == JobPolicyKind::Compression),
    ) {
        (Some(after), p) => out.policies.push(JobPolicy {
            kind: JobPolicyKind::Compression,
            job_id: p.map(|p| p.job_id).unwrap_or(0),
            after: match after {
                crate::spec::Threshold::Integer(n) => JobPolicyAfter::Integer(n),
                crate::spec::Threshold::Interval(text) => JobPolicyAfter::Interval(text),
            },
            schedule_interval: p
                .map(|p| p.schedule_interval.clone())
                .unwrap_or_else(|| "12:00:00".into()),
            scheduled: p.is_none_or(|p| p.scheduled),
            other_settings: Vec::new(),
        }),
        (None, Some(p)) => out.policies.push(p.clone()),
        (None, None) => {}
    }
    // Compression first, then retention, whatever order they were found in.
    out.policies
        .sort_by_key(|p| p.kind == JobPolicyKind::Retention);
    out.compression = Some(TargetCompression {
        segment_by,
        order_by,
        chunk_interval: source.and_then(|s| s.chunk_interval.clone()),
        as_source,
        slices: if source.is_some() {
            compressed_slices(table, width)
        } else {
            Vec::new()
        },
    });
    Ok(out)
}

/// `compression policy (job 7)`: a policy, named for messages.
fn describe_policy(p: &JobPolicy) -> String {
    let kind = match p.kind {
        JobPolicyKind::Compression => "compression",
        JobPolicyKind::Retention => "retention",
    };
    format!("its {kind} policy (job {})", p.job_id)
}

/// `(major, minor)` of the TimescaleDB the target has, or will have once the plan
/// creates it (`(0, 0)` when it has none).
fn target_version(inputs: &Inputs) -> (u32, u32) {
    let server = &inputs.target_server;
    let text = server
        .timescaledb
        .as_deref()
        .or(server.timescaledb_available.as_deref())
        .unwrap_or("0");
    let mut parts = text.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Whether the target speaks the columnstore API (TimescaleDB 2.18 and later).
pub(super) fn columnstore_api(inputs: &Inputs) -> bool {
    target_version(inputs) >= (2, 18)
}

/// Whether the target accepts a foreign key on a hypertable with compressed chunks
/// (TimescaleDB 2.20 and later; 2.19 refuses it).
pub(super) fn foreign_keys_on_compressed(inputs: &Inputs) -> bool {
    target_version(inputs) >= (2, 20)
}

/// `ALTER TABLE … SET (…)`: the settings, in the target version's own terms.
pub(super) fn settings_sql(
    target: &QualifiedName,
    c: &TargetCompression,
    columnstore: bool,
) -> String {
    let segment_by: Vec<String> = c.segment_by.iter().map(|s| quote_ident(s)).collect();
    // An explicit empty segmentby: TimescaleDB 2.2x would otherwise pick one itself.
    let mut options = if columnstore {
        vec![
            "timescaledb.enable_columnstore = true".to_string(),
            format!(
                "timescaledb.segmentby = {}",
                quote_literal(&segment_by.join(", "))
            ),
        ]
    } else {
        vec![
            "timescaledb.compress = true".to_string(),
            format!(
                "timescaledb.compress_segmentby = {}",
                quote_literal(&segment_by.join(", "))
            ),
        ]
    };
    if !c.order_by.is_empty() {
        let key = if columnstore {
            "orderby"
        } else {
            "compress_orderby"
        };
        options.push(format!(
            "timescaledb.{key} = {}",
            quote_literal(&c.order_by)
        ));
    }
    if let Some(i) = &c.chunk_interval {
        options.push(format!(
            "timescaledb.compress_chunk_time_interval = {}",
            quote_literal(i)
        ));
    }
    format!("ALTER TABLE {} SET ({})", target.sql(), options.join(", "))
}

/// The target's chunks in the time slice `[lo, hi)` (internal units), compressed.
pub(super) fn compress_sql(
    ts_schema: &str,
    target: &QualifiedName,
    time_type: TimeType,
    lo: i64,
    hi: i64,
) -> String {
    format!(
        include_str!("sql/compress_slice.sql"),
        ts = quote_ident(ts_schema),
        schema = quote_literal(&target.schema),
        name = quote_literal(&target.name),
        start = bound(time_type, "start"),
        end = bound(time_type, "end"),
        lo = lo,
        hi = hi,
    )
}

/// A chunk's range bound from `timescaledb_information.chunks` in internal units.
fn bound(time_type: TimeType, side: &str) -> String {
    match time_type {
        TimeType::Integer => format!("c.range_{side}_integer"),
        _ => format!("(extract(epoch FROM c.range_{side}) * 1000000)::int8"),
    }
}

/// The SQL that recreates a policy on the target, paused: the `jobs:enable` step
/// enables it once the move is verified, if the source has it scheduled (see
/// `plan::jobs`). `source` is the source's job, whose runtime limits and retries
/// the target's gets.
pub(super) fn policy_sql(
    ts_schema: &str,
    target: &QualifiedName,
    p: &JobPolicy,
    columnstore: bool,
    source: Option<&crate::catalog::SourceJob>,
) -> Vec<String> {
    let ts = quote_ident(ts_schema);
    let rel = format!("{}::regclass", quote_literal(&target.sql()));
    let after = match &p.after {
        JobPolicyAfter::Interval(i) => format!("INTERVAL {}", quote_literal(i)),
        JobPolicyAfter::Integer(n) => n.to_string(),
    };
    let schedule = format!("INTERVAL {}", quote_literal(&p.schedule_interval));
    vec![
        match (p.kind, columnstore) {
            (JobPolicyKind::Compression, true) => format!(
                "CALL {ts}.add_columnstore_policy({rel}, after => {after}, schedule_interval => {schedule})"
            ),
            (JobPolicyKind::Compression, false) => format!(
                "SELECT {ts}.add_compression_policy({rel}, compress_after => {after}, schedule_interval => {schedule})"
            ),
            (JobPolicyKind::Retention, _) => format!(
                "SELECT {ts}.add_retention_policy({rel}, drop_after => {after}, schedule_interval => {schedule})"
            ),
        },
        // Paused in the same transaction: the scheduler never sees it scheduled.
        super::jobs::alter_where(
            ts_schema,
            &super::jobs::policy_filter(target, p.kind),
            &super::jobs::policy_settings(source),
        ),
    ]
}

/// The check of the target's compression after the move: its segmentby (and orderby,
/// when it is the source's), and that no chunk of a slice meant to end compressed
/// is left uncompressed. Recorded answers: the target alone is asked.
pub(super) fn verify_probe(
    source_order_by: Option<&str>,
    target: &QualifiedName,
    time_type: TimeType,
    c: &TargetCompression,
) -> Probe {
    let los: Vec<String> = c.slices.iter().map(|(lo, _)| lo.to_string()).collect();
    let his: Vec<String> = c.slices.iter().map(|(_, hi)| hi.to_string()).collect();
    let check_order = c.as_source && source_order_by.is_some();
    let target_sql = format!(
        include_str!("sql/verify_compression.sql"),
        schema = quote_literal(&target.schema),
        name = quote_literal(&target.name),
        rel = quote_literal(&target.sql()),
        start = bound(time_type, "start"),
        end = bound(time_type, "end"),
        los = los.join(","),
        his = his.join(","),
    );
    let mut columns = vec!["segment_by".to_string(), "uncompressed chunks".to_string()];
    let mut recorded = vec![c.segment_by.join(","), "0".to_string()];
    let target_sql = if check_order {
        columns.push("order_by".into());
        recorded.push(source_order_by.unwrap_or_default().to_string());
        target_sql
    } else {
        // Only the columns asked for are compared.
        format!("SELECT segment_by, uncompressed FROM ({target_sql}) v")
    };
    Probe {
        level: VerifyLevel::Count,
        table_total: false,
        table_check: Some("compression".into()),
        columns,
        source_sql: String::new(),
        target_sql,
        rows_read: None,
        source_rows_sql: None,
        target_rows_sql: None,
        recorded: Some(recorded),
    }
}

/// `segment_by device_id, order_by "time" DESC; compress after 30 days, drop after 1 year`.
fn summary(segment_by: &[String], order_by: &str, policies: &[JobPolicy]) -> String {
    format!(
        "segment_by {}, order_by {}{}",
        if segment_by.is_empty() {
            "(none)".to_string()
        } else {
            segment_by.join(", ")
        },
        if order_by.is_empty() {
            "(default)"
        } else {
            order_by
        },
        policies_summary(policies)
    )
}

/// `; compress after 30 days; drop after 1 year (paused)`: the policies, each after `; `.
fn policies_summary(policies: &[JobPolicy]) -> String {
    policies
        .iter()
        .map(|p| {
            let after = match &p.after {
                JobPolicyAfter::Interval(i) => i.clone(),
                JobPolicyAfter::Integer(n) => n.to_string(),
            };
            let what = match p.kind {
                JobPolicyKind::Compression => "compress",
                JobPolicyKind::Retention => "drop",
            };
            format!(
                "; {what} after {after}{}",
                if p.scheduled { "" } else { " (paused)" }
            )
        })
        .collect()
}

/// The plan's `compression:` line of a table, before → after; `None` when neither
/// side compresses nor has a policy.
pub(super) fn describe(table: &Table, d: &Decision) -> Option<(String, String)> {
    let h = table.hypertable.as_ref()?;
    let before = match &h.compression {
        Some(c) => summary(&c.segment_by, &c.order_by, &h.policies),
        None => format!("off{}", policies_summary(&h.policies)),
    };
    let after = match &d.compression {
        Some(c) => format!(
            "{} ({} slice{} compressed as {} fill{})",
            summary(&c.segment_by, &c.order_by, &d.policies),
            c.slices.len(),
            if c.slices.len() == 1 { "" } else { "s" },
            if c.slices.len() == 1 { "it" } else { "they" },
            if c.slices.len() == 1 { "s" } else { "" },
        ),
        None => format!("off{}", policies_summary(&d.policies)),
    };
    (before != "off" || after != "off").then_some((before, after))
}
