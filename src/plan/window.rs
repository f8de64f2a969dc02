//! Copy windows: which rows one COPY moves, and how its bounds are written.

use chrono::DateTime;

use crate::catalog::{Chunk, TimeType};
use crate::pg::{QualifiedName, quote_literal};

/// Above this many windows for a plain table, windows widen to whole multiples of
/// the chunk interval: thousands of tiny COPYs cost more in round trips than they
/// gain in parallelism.
const MAX_ALIGNED_WINDOWS: i64 = 10_000;

/// Where a window reads from.
#[derive(Debug, Clone, PartialEq)]
pub enum Relation {
    /// `FROM ONLY rel`: one chunk, or a plain table.
    Only(QualifiedName),
    /// `FROM hypertable`: several chunks (space partitions) share one time range.
    Root(QualifiedName),
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
                    relation: Relation::Only(chunk.name.clone()),
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
                relation: Relation::Only(table.clone()),
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
        relation: Relation::Only(table.clone()),
        ranged: false,
        est_rows,
        est_bytes,
    }
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
