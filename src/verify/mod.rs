//! The verify layer: judge what exec measured, explain mismatches, keep the record.
//!
//! A move that cannot prove itself fails loudly: a mismatch, or a check that did not
//! run, is never a pass. Exec measures (it runs the plan's probe queries on both
//! sides); this layer compares, reports, and looks up differing rows on request.

mod diff;

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use tokio_postgres::Client;

pub use diff::{DiffError, diff};

use crate::exec::{Outcome, RunReport};
use crate::plan::{Action, Plan, StepKind};
use crate::spec::VerifyLevel;

/// The verdict on one window.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The verify step's ID, e.g. `verify:public.conditions:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z`.
    pub id: String,
    /// The target table.
    pub table: String,
    /// `count` or `checksum`.
    pub level: VerifyLevel,
    /// The check is a table's row total, not one window's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub table_total: bool,
    /// A check of the table as a whole other than its rows (`compression`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_check: Option<String>,
    /// What each answer means (`rows`, `checksum`).
    pub columns: Vec<String>,
    /// The source's answers, if the check ran.
    pub source: Option<Vec<String>>,
    /// The target's answers, if the check ran.
    pub target: Option<Vec<String>>,
    /// Why the check did not run, if it did not.
    pub error: Option<String>,
    /// Ran, and every answer matched.
    pub ok: bool,
}

impl Check {
    /// One window's check: neither a row total nor another check of a whole table.
    fn is_window(&self) -> bool {
        !self.table_total && self.table_check.is_none()
    }

    fn rows(side: &Option<Vec<String>>) -> u64 {
        side.as_ref()
            .and_then(|a| a.first())
            .and_then(|r| r.parse().ok())
            .unwrap_or(0)
    }
}

/// All verdicts of a run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Verdict {
    /// One per verify step, in plan order.
    pub checks: Vec<Check>,
}

impl Verdict {
    /// True only when there were checks and every one ran and matched.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The checks that failed or did not run.
    pub fn mismatches(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

/// Compare the answers of every verify step of the plan.
pub fn judge(plan: &Plan, report: &RunReport) -> Verdict {
    let mut checks = Vec::new();
    for n in plan.order() {
        let step = &plan.graph[n];
        if step.kind != StepKind::Verify {
            continue;
        }
        let Action::Probe(probe) = &step.action else {
            continue;
        };
        let outcome = report
            .steps
            .iter()
            .find(|s| s.node == n)
            .map(|s| &s.outcome);
        let (source, target, error) = match outcome {
            Some(Outcome::Done {
                probe: Some((s, t)),
                ..
            }) => (Some(s.clone()), Some(t.clone()), None),
            Some(Outcome::Failed(reason)) => (None, None, Some(reason.clone())),
            Some(Outcome::Skipped { cause }) => {
                (None, None, Some(format!("not run: {cause} failed")))
            }
            _ => (None, None, Some("not run".to_string())),
        };
        checks.push(Check {
            id: step.id.clone(),
            table: step
                .table
                .as_ref()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            level: probe.level,
            table_total: probe.table_total,
            table_check: probe.table_check.clone(),
            columns: probe.columns.clone(),
            ok: error.is_none() && source.is_some() && source == target,
            source,
            target,
            error,
        });
    }
    Verdict { checks }
}

/// The verdict for people: one line per table, one per failing check, a closing line.
/// A table's row total is part of its verdict but not counted as a window.
pub fn render_text(verdict: &Verdict) -> String {
    let mut out = String::new();
    // Per table: windows, source rows, every check ok, the rows' checks ok.
    let mut tables: BTreeMap<&str, (usize, u64, bool, bool)> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for c in &verdict.checks {
        let entry = tables.entry(&c.table).or_insert_with(|| {
            order.push(&c.table);
            (0, 0, true, true)
        });
        if c.is_window() {
            entry.0 += 1;
            entry.1 += Check::rows(&c.source);
        }
        entry.2 &= c.ok;
        // A failed compression check says so on its own: the rows still match.
        if c.table_check.is_none() {
            entry.3 &= c.ok;
        }
    }
    let level = verdict
        .checks
        .iter()
        .find(|c| c.is_window())
        .or(verdict.checks.first())
        .map(|c| c.level.label())
        .unwrap_or("none");
    for table in order {
        let (windows, rows, ok, rows_ok) = tables[table];
        // What else was checked of the table as a whole, and how it came out.
        let more: String = verdict
            .checks
            .iter()
            .filter(|c| c.table == table)
            .filter_map(|c| c.table_check.as_ref().map(|what| (what, c.ok)))
            .map(|(what, ok)| {
                format!(
                    ", {what} {}",
                    if ok { "as planned" } else { "not as planned" }
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "{} {table}: {windows} window{}, {rows} source rows, {}{more}",
            if ok { "ok  " } else { "FAIL" },
            if windows == 1 { "" } else { "s" },
            if rows_ok {
                format!("{level} matches")
            } else {
                format!("{level} differs")
            }
        );
    }
    for c in verdict.mismatches() {
        let _ = write!(out, "FAIL {}:", c.id);
        match (&c.error, &c.source, &c.target) {
            (Some(e), _, _) => {
                let _ = write!(out, " {e}");
            }
            (None, Some(s), Some(t)) => {
                for (i, name) in c.columns.iter().enumerate() {
                    let (a, b) = (s.get(i).map_or("-", |v| v), t.get(i).map_or("-", |v| v));
                    let mark = if a == b { "" } else { " ≠" };
                    let _ = write!(out, " {name} source {a} / target {b}{mark};");
                }
                out.pop();
                if c.table_total {
                    out.push_str(" (the table's rows in all, read through the table)");
                }
            }
            _ => {}
        }
        out.push('\n');
    }
    let windows = verdict.checks.iter().filter(|c| c.is_window()).count();
    let plural = if windows == 1 { "" } else { "s" };
    let failing = verdict.mismatches().filter(|c| c.is_window()).count();
    let totals: Vec<&str> = verdict
        .mismatches()
        .filter(|c| c.table_total)
        .map(|c| c.table.as_str())
        .collect();
    let others: Vec<String> = verdict
        .mismatches()
        .filter_map(|c| {
            c.table_check
                .as_ref()
                .map(|w| format!("the {w} of {}", c.table))
        })
        .collect();
    if !others.is_empty() {
        // Said first, so that the closing line below stays one line.
        let _ = writeln!(out, "Not as planned: {}.", others.join(", "));
    }
    let _ = if failing == 0 && totals.is_empty() && others.is_empty() {
        writeln!(
            out,
            "Verification ({level}): all {windows} window{plural} match."
        )
    } else if totals.is_empty() {
        writeln!(
            out,
            "Verification ({level}) FAILED: {failing} of {windows} window{plural} differ."
        )
    } else {
        writeln!(
            out,
            "Verification ({level}) FAILED: {failing} of {windows} window{plural} differ, and the row total of {} differs.",
            totals.join(", ")
        )
    };
    out
}

/// The verdict as versioned, sorted JSON.
pub fn render_json(verdict: &Verdict, diffs: &[RowDiff]) -> String {
    let value = serde_json::json!({
        "format_version": 1,
        "ok": verdict.ok(),
        "checks": verdict.checks,
        "diffs": diffs,
    });
    let mut text = serde_json::to_string_pretty(&value).expect("a verdict serializes");
    text.push('\n');
    text
}

/// Rows that differ in one window, paired by key (primary key, or the whole row).
#[derive(Debug, Clone, Serialize)]
pub struct RowDiff {
    /// The verify step.
    pub id: String,
    /// (key, source row, target row) for keys on both sides with different rows.
    pub changed: Vec<(String, String, String)>,
    /// Rows on the source that the target lacks (or has fewer copies of).
    pub missing_on_target: Vec<String>,
    /// Rows on the target that the source lacks (or has fewer copies of).
    pub extra_on_target: Vec<String>,
    /// More differences exist than were listed.
    pub truncated: bool,
}

/// The differing rows for people.
pub fn render_diffs(diffs: &[RowDiff]) -> String {
    let mut out = String::new();
    for d in diffs {
        let _ = writeln!(out, "Differences in {}:", d.id);
        for (key, s, t) in &d.changed {
            let _ = writeln!(
                out,
                "  changed, key {key}\n    source: {s}\n    target: {t}"
            );
        }
        for s in &d.missing_on_target {
            let _ = writeln!(out, "  missing on target: {s}");
        }
        for t in &d.extra_on_target {
            let _ = writeln!(out, "  extra on target:   {t}");
        }
        if d.truncated {
            let _ = writeln!(out, "  … more differences not shown (raise --diff)");
        }
    }
    out
}

/// One recorded verdict, as `status` shows it (kept by the journal).
pub use crate::journal::Recorded;

/// Keep the verdict in the target's journal, for `status`.
pub async fn record(
    target: &Client,
    spec_fingerprint: &str,
    verdict: &Verdict,
) -> Result<(), crate::journal::JournalError> {
    crate::journal::ensure(target).await?;
    let answer = |side: &Option<Vec<String>>| side.as_ref().map(|a| a.join(" "));
    let answers: Vec<(Option<String>, Option<String>)> = verdict
        .checks
        .iter()
        .map(|c| (answer(&c.source), answer(&c.target)))
        .collect();
    let rows: Vec<crate::journal::VerdictRow<'_>> = verdict
        .checks
        .iter()
        .zip(&answers)
        .map(|(c, (s, t))| crate::journal::VerdictRow {
            step_id: &c.id,
            level: c.level.label(),
            ok: c.ok,
            source_answer: s.as_deref(),
            target_answer: t.as_deref(),
        })
        .collect();
    crate::journal::record_verdicts(target, spec_fingerprint, &rows).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(id: &str, table_check: Option<&str>, source: &[&str], target: &[&str]) -> Check {
        let answers = |a: &[&str]| Some(a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        Check {
            id: id.into(),
            table: "public.metrics".into(),
            level: VerifyLevel::Checksum,
            table_total: false,
            table_check: table_check.map(str::to_string),
            columns: vec!["rows".into(), "checksum".into()],
            ok: source == target,
            source: answers(source),
            target: answers(target),
            error: None,
        }
    }

    #[test]
    fn a_failed_compression_check_fails_the_table_but_not_its_rows() {
        let mut compression = check(
            "verify:public.metrics:compression",
            Some("compression"),
            &["device_id", "0"],
            &["device_id", "1"],
        );
        compression.columns = vec!["segment_by".into(), "uncompressed chunks".into()];
        let verdict = Verdict {
            checks: vec![
                check(
                    "verify:public.metrics:w1",
                    None,
                    &["10", "ab"],
                    &["10", "ab"],
                ),
                compression,
            ],
        };
        assert!(!verdict.ok());
        let text = render_text(&verdict);
        assert!(
            text.contains(
                "FAIL public.metrics: 1 window, 10 source rows, checksum matches, compression not as planned\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("FAIL verify:public.metrics:compression: segment_by source device_id / target device_id; uncompressed chunks source 0 / target 1 ≠\n"),
            "{text}"
        );
        assert!(
            text.contains("Not as planned: the compression of public.metrics.\n"),
            "{text}"
        );
    }
}
