//! Copy windows: which rows one COPY moves, and how its bounds are written.

use std::collections::BTreeMap;

use chrono::DateTime;

use super::shape::Shape;
use crate::catalog::{Chunk, Table, TimeType};
use crate::pg::{QualifiedName, quote_literal};
use crate::spec::{Spec, TableSpec, TimeValue};

/// Above this many windows for a plain table, windows widen to whole multiples of
/// the chunk interval: thousands of tiny COPYs cost more in round trips than they
/// gain in parallelism.
const MAX_ALIGNED_WINDOWS: i64 = 10_000;

/// Where a window's copy reads from. Verification never reads this way: it reads
/// through the table itself (see `plan::probe`), so that a copy that reads too little
/// cannot also be the measure of what there was to read.
#[derive(Debug, Clone, PartialEq)]
pub enum Relation {
    /// `FROM chunk`: one chunk of a hypertable. Never `ONLY`: the rows of a compressed
    /// chunk are not in the chunk's own heap, and only a plain `SELECT` on the chunk
    /// lets TimescaleDB decompress them.
    Chunk(QualifiedName),
    /// `FROM ONLY table`: a plain table (one with inheritance children is refused).
    Table(QualifiedName),
    /// `FROM hypertable`: several chunks (space partitions) share one time range.
    Root(QualifiedName),
}

impl Relation {
    /// The `FROM` item the copy reads, without a predicate.
    pub fn sql(&self) -> String {
        match self {
            Relation::Chunk(r)
                if crate::fault::injected(crate::fault::COPY_READS_CHUNK_HEAP_ONLY) =>
            {
                format!("ONLY {}", r.sql())
            }
            Relation::Chunk(r) | Relation::Root(r) => r.sql(),
            Relation::Table(r) => format!("ONLY {}", r.sql()),
        }
    }
}

/// One window before it becomes SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Inclusive lower bound in internal units; `None` when open.
    pub lo: Option<i64>,
    /// Exclusive upper bound in internal units; `None` when open.
    pub hi: Option<i64>,
    /// What to read.
    pub relation: Relation,
    /// Whether the window has a time range at all (a whole plain table does not).
    pub ranged: bool,
    /// Estimated rows.
    pub est_rows: Option<u64>,
    /// Estimated bytes.
    pub est_bytes: u64,
}

/// One window per time range of a hypertable's chunks.
pub fn from_chunks(root: &QualifiedName, chunks: &[Chunk]) -> Vec<Window> {
    let mut out: Vec<Window> = Vec::new();
    let mut members: Vec<usize> = Vec::new();
    for chunk in chunks {
        match out.last_mut() {
            Some(w) if w.lo == chunk.range_start && w.hi == chunk.range_end => {
                w.relation = Relation::Root(root.clone());
                w.est_rows = w.est_rows.zip(chunk.est_rows).map(|(a, b)| a + b);
                w.est_bytes += chunk.est_bytes;
                *members.last_mut().expect("pushed with window") += 1;
            }
            _ => {
                out.push(Window {
                    lo: chunk.range_start,
                    hi: chunk.range_end,
                    relation: Relation::Chunk(chunk.name.clone()),
                    ranged: true,
                    est_rows: chunk.est_rows,
                    est_bytes: chunk.est_bytes,
                });
                members.push(1);
            }
        }
    }
    out
}

/// Windows aligned to a target chunk width, covering `[min, max]` of a plain table.
/// TimescaleDB aligns chunks to multiples of the width from zero (the Unix epoch
/// for time), so each window fills whole target chunks.
pub fn aligned(
    table: &QualifiedName,
    bounds: Option<(i64, i64)>,
    width: i64,
    est_rows: Option<u64>,
    est_bytes: u64,
) -> Vec<Window> {
    let Some((min, max)) = bounds else {
        return vec![whole(table, est_rows, est_bytes)];
    };
    let first = min.div_euclid(width);
    let last = max.div_euclid(width);
    let span = last - first + 1;
    let step = (span + MAX_ALIGNED_WINDOWS - 1) / MAX_ALIGNED_WINDOWS;
    let count = (span + step - 1) / step;
    let share = |total: u64| total / count as u64;
    (0..count)
        .map(|i| {
            let lo = (first + i * step).saturating_mul(width);
            let hi = (first + (i + 1) * step).saturating_mul(width);
            Window {
                lo: Some(lo),
                hi: Some(hi),
                relation: Relation::Table(table.clone()),
                ranged: true,
                est_rows: est_rows.map(share),
                est_bytes: share(est_bytes),
            }
        })
        .collect()
}

/// The whole table in one window.
pub fn whole(table: &QualifiedName, est_rows: Option<u64>, est_bytes: u64) -> Window {
    Window {
        lo: None,
        hi: None,
        relation: Relation::Table(table.clone()),
        ranged: false,
        est_rows,
        est_bytes,
    }
}

/// Keep only the rows in `[from, until)`: windows outside are dropped, windows
/// across a bound are narrowed to it.
pub fn clip(windows: Vec<Window>, from: Option<i64>, until: Option<i64>) -> Vec<Window> {
    if from.is_none() && until.is_none() {
        return windows;
    }
    windows
        .into_iter()
        .filter_map(|mut w| {
            let lo = match (w.lo, from) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            let hi = match (w.hi, until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let (Some(l), Some(h)) = (lo, hi) {
                if l >= h {
                    return None;
                }
            }
            let (old_lo, old_hi) = (w.lo, w.hi);
            w.lo = lo;
            w.hi = hi;
            w.ranged = true;
            // A narrowed window holds a share of the estimate.
            if let (Some(ol), Some(oh), Some(l), Some(h)) = (old_lo, old_hi, lo, hi) {
                if (ol, oh) != (l, h) && oh > ol {
                    let share = (h - l) as f64 / (oh - ol) as f64;
                    w.est_rows = w.est_rows.map(|r| (r as f64 * share) as u64);
                    w.est_bytes = (w.est_bytes as f64 * share) as u64;
                }
            }
            Some(w)
        })
        .collect()
}

/// Split windows whose estimate is above `max_rows` or `max_bytes` into equal time
/// ranges. Windows without both bounds cannot be split and stay whole.
pub fn split(windows: Vec<Window>, max_rows: Option<u64>, max_bytes: Option<u64>) -> Vec<Window> {
    if max_rows.is_none() && max_bytes.is_none() {
        return windows;
    }
    let mut out = Vec::with_capacity(windows.len());
    for w in windows {
        let by_rows = match (max_rows, w.est_rows) {
            (Some(m), Some(r)) => r.div_ceil(m),
            _ => 1,
        };
        let by_bytes = max_bytes.map_or(1, |m| w.est_bytes.div_ceil(m));
        let pieces = by_rows.max(by_bytes).max(1) as i64;
        let (Some(lo), Some(hi)) = (w.lo, w.hi) else {
            out.push(w);
            continue;
        };
        let pieces = pieces.min(hi - lo).max(1);
        if pieces == 1 {
            out.push(w);
            continue;
        }
        let step = (hi - lo) / pieces;
        for i in 0..pieces {
            let a = lo + i * step;
            let b = if i == pieces - 1 { hi } else { a + step };
            out.push(Window {
                lo: Some(a),
                hi: Some(b),
                est_rows: w.est_rows.map(|r| r / pieces as u64),
                est_bytes: w.est_bytes / pieces as u64,
                ..w.clone()
            });
        }
    }
    out
}

/// A bound as it appears in step IDs: RFC 3339 in UTC for time, the number for integers.
pub fn label(value: Option<i64>, time_type: TimeType, open: &str) -> String {
    match value {
        None => open.to_string(),
        Some(v) if time_type == TimeType::Integer => v.to_string(),
        Some(v) => match DateTime::from_timestamp_micros(v) {
            Some(t) if t.timestamp_subsec_micros() == 0 => {
                t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            }
            Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            None => v.to_string(),
        },
    }
}

/// A bound as a SQL literal of the column's type. A `date` column is compared
/// with a `timestamp`, because chunk bounds need not fall on midnight.
pub fn literal(value: i64, time_type: TimeType) -> String {
    let text = |fmt: &str| {
        DateTime::from_timestamp_micros(value)
            .map(|t| t.format(fmt).to_string())
            .unwrap_or_else(|| value.to_string())
    };
    match time_type {
        TimeType::Integer => value.to_string(),
        TimeType::TimestampTz => format!(
            "{}::timestamptz",
            quote_literal(&text("%Y-%m-%d %H:%M:%S%.6f+00"))
        ),
        TimeType::Timestamp | TimeType::Date => {
            format!(
                "{}::timestamp",
                quote_literal(&text("%Y-%m-%d %H:%M:%S%.6f"))
            )
        }
    }
}

/// Order windows so that neighbours land in different target chunks, largest first.
/// When several source chunks feed one target chunk (1-day windows into 7-day
/// chunks), copying consecutive days at once makes every worker insert into the same
/// chunk and queue on its locks; timescaledb-backfill measured this. Round-robin over
/// target chunks keeps parallel windows apart; taking the biggest target chunks, and
/// within each the biggest windows, first keeps a long window from finishing last.
/// The set of windows, and their IDs, do not change.
pub(super) fn spread_over_target_chunks(windows: Vec<Window>, shape: &Shape) -> Vec<Window> {
    let Shape::Hypertable {
        interval: Some(interval),
        ..
    } = shape
    else {
        return windows;
    };
    let width = interval.width();
    let mut groups: BTreeMap<Option<i64>, Vec<Window>> = BTreeMap::new();
    for w in windows {
        groups
            .entry(w.lo.map(|lo| lo.div_euclid(width)))
            .or_default()
            .push(w);
    }
    let mut groups: Vec<Vec<Window>> = groups.into_values().collect();
    for g in &mut groups {
        // Stable sorts: equal estimates keep time order, so the plan stays deterministic.
        g.sort_by_key(|w| std::cmp::Reverse(w.est_bytes));
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.iter().map(|w| w.est_bytes).sum::<u64>()));
    let mut queues: Vec<std::collections::VecDeque<Window>> =
        groups.into_iter().map(Into::into).collect();
    let mut out = Vec::new();
    while queues.iter().any(|q| !q.is_empty()) {
        for q in &mut queues {
            if let Some(w) = q.pop_front() {
                out.push(w);
            }
        }
    }
    out
}

/// The copy windows of one table: per source chunk range (or per target chunk
/// width for a plain source), clipped to `from:`/`until:`, and split where the
/// spec's `max_window_rows`/`max_window_bytes` ask for smaller windows.
pub(super) fn for_table(
    spec: &Spec,
    t: &TableSpec,
    table: &Table,
    shape: &Shape,
    bounds: Option<(i64, i64)>,
) -> Vec<Window> {
    let windows = if let Some(h) = &table.hypertable {
        let w = from_chunks(&t.source, &h.chunks);
        if w.is_empty() {
            // An empty hypertable has no chunks; one window still proves it empty.
            vec![whole(&t.source, Some(0), 0)]
        } else {
            w
        }
    } else {
        match shape {
            Shape::Hypertable { interval, .. } => {
                // TimescaleDB's default chunk interval is 7 days.
                let width = interval.map(|i| i.width()).unwrap_or(7 * 86_400_000_000);
                aligned(&t.source, bounds, width, table.est_rows, table.est_bytes)
            }
            Shape::Plain => vec![whole(&t.source, table.est_rows, table.est_bytes)],
        }
    };
    let value = |v: TimeValue| match v {
        TimeValue::Micros(m) | TimeValue::Int(m) => m,
    };
    let windows = clip(windows, t.from.map(value), t.until.map(value));
    split(windows, spec.max_window_rows, spec.max_window_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    #[test]
    fn aligned_windows_cover_the_range_on_epoch_boundaries() {
        let t = QualifiedName::new("public", "t");
        // 2025-01-01 is 20089 days after the epoch; 7-day windows start on Thursdays.
        let min = 20089 * DAY + 5;
        let max = 20089 * DAY + 20 * DAY;
        let w = aligned(&t, Some((min, max)), 7 * DAY, Some(700), 7000);
        assert_eq!(w.first().unwrap().lo, Some(20083 * DAY));
        assert!(w.last().unwrap().hi.unwrap() > max);
        assert!(w.windows(2).all(|p| p[0].hi == p[1].lo));
        assert_eq!(
            label(w[0].lo, TimeType::TimestampTz, "-inf"),
            "2024-12-26T00:00:00Z"
        );
    }

    #[test]
    fn too_many_windows_widen() {
        let t = QualifiedName::new("public", "t");
        let w = aligned(
            &t,
            Some((0, 1_000_000 * 3_600_000_000)),
            3_600_000_000,
            None,
            0,
        );
        assert!(w.len() as i64 <= MAX_ALIGNED_WINDOWS);
        assert_eq!(w.first().unwrap().lo, Some(0));
        assert!(w.last().unwrap().hi.unwrap() > 1_000_000 * 3_600_000_000);
    }

    #[test]
    fn clip_and_split() {
        let t = QualifiedName::new("public", "t");
        let w = aligned(&t, Some((0, 10 * DAY - 1)), DAY, Some(1000), 10_000);
        let clipped = clip(w, Some(DAY / 2), Some(3 * DAY));
        assert_eq!(clipped.len(), 3);
        assert_eq!(clipped[0].lo, Some(DAY / 2));
        assert_eq!(clipped[2].hi, Some(3 * DAY));
        let split = split(clipped, Some(40), None);
        assert!(split.len() > 3);
        assert!(split.windows(2).all(|p| p[0].hi == p[1].lo));
        assert_eq!(split.first().unwrap().lo, Some(DAY / 2));
        assert_eq!(split.last().unwrap().hi, Some(3 * DAY));
    }

    #[test]
    fn literals_by_type() {
        assert_eq!(
            literal(0, TimeType::TimestampTz),
            "'1970-01-01 00:00:00.000000+00'::timestamptz"
        );
        assert_eq!(
            literal(DAY / 2, TimeType::Date),
            "'1970-01-01 12:00:00.000000'::timestamp"
        );
        assert_eq!(literal(-5, TimeType::Integer), "-5");
    }
}
