//! Progress while a plan runs: bars on a terminal, one line per step otherwise, and
//! the summary of what moved.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::Duration;

use crate::exec::{self, Outcome, RunReport, StepReport};
use crate::ops::Observer;
use crate::plan::{self, Plan, StepKind};
use crate::verify::{self, Verdict};

/// The terminal as apply's observer: the plan when it was not reviewed, progress
/// bars (one line per step without a terminal), the summary, then the verdict.
#[derive(Default)]
pub(super) struct Shown {
    progress: OnceLock<Progress>,
}

impl Observer for Shown {
    fn planned(&self, plan: &Plan) {
        print!("{}", plan::render_text(plan, false));
    }

    fn started(&self, plan: &Plan) {
        println!();
        let _ = std::io::stdout().flush();
        let _ = self.progress.set(Progress::new(plan));
    }

    fn step(&self, plan: &Plan, step: &StepReport) {
        if let Some(p) = self.progress.get() {
            p.finished(plan, step);
        }
    }

    fn finished(&self, plan: &Plan, report: &RunReport) {
        if let Some(p) = self.progress.get() {
            p.clear();
        }
        print_summary(plan, report);
    }

    fn verified(&self, verdict: &Verdict) {
        print!("\n{}", verify::render_text(verdict));
    }

    fn note(&self, message: &str) {
        eprintln!("hypermove: {message}");
    }
}

/// One bar counting finished steps (`verify`), with a line per step that did not
/// finish when there is no terminal.
pub(super) struct Counting {
    what: &'static str,
    bar: OnceLock<indicatif::ProgressBar>,
}

impl Counting {
    /// A counter of `what` ("windows verified").
    pub(super) fn new(what: &'static str) -> Self {
        Counting {
            what,
            bar: OnceLock::new(),
        }
    }
}

impl Observer for Counting {
    fn started(&self, plan: &Plan) {
        let _ = self
            .bar
            .set(progress_bar(plan.graph.node_count() as u64, self.what));
    }

    fn step(&self, _plan: &Plan, step: &StepReport) {
        if let Some(bar) = self.bar.get() {
            bar.inc(1);
            if bar.is_hidden() && !matches!(step.outcome, Outcome::Done { .. }) {
                eprintln!("{}", progress_line(step));
            }
        }
    }

    fn finished(&self, _plan: &Plan, _report: &RunReport) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}

/// Apply's progress: on an interactive terminal, a bar per table (windows done,
/// rows) and one for the whole run (steps, rows/s, MB/s, ETA); otherwise, and when
/// `CI` is set, one plain line per finished step.
pub(super) struct Progress {
    total_steps: usize,
    done: std::sync::atomic::AtomicUsize,
    bars: Option<(
        indicatif::MultiProgress,
        indicatif::ProgressBar,
        BTreeMap<String, indicatif::ProgressBar>,
    )>,
    rows: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
    started: std::time::Instant,
}

impl Progress {
    fn new(plan: &Plan) -> Self {
        // Counted over the graph, so a journal that names unknown steps cannot
        // make the count wrap.
        let total_steps = plan
            .graph
            .node_weights()
            .filter(|s| !plan.done.contains(&s.id))
            .count();
        let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let bars = interactive.then(|| {
            let multi = indicatif::MultiProgress::new();
            let style = |t: &str| {
                indicatif::ProgressStyle::with_template(t)
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            };
            let mut tables = BTreeMap::new();
            for t in &plan.tables {
                let windows = plan
                    .graph
                    .node_weights()
                    .filter(|s| {
                        s.kind == StepKind::Copy
                            && s.table.as_ref() == Some(&t.target)
                            && !plan.done.contains(&s.id)
                    })
                    .count();
                let bar = multi.add(indicatif::ProgressBar::new(windows as u64));
                bar.set_style(style("{prefix:30!} {bar:30} {pos}/{len} windows {msg}"));
                bar.set_prefix(t.target.to_string());
                tables.insert(t.target.to_string(), bar);
            }
            let total = multi.add(indicatif::ProgressBar::new(total_steps as u64));
            total.set_style(style(
                "{prefix:30!} {bar:30} {pos}/{len} steps {msg} [{elapsed} < {eta}]",
            ));
            total.set_prefix("total");
            (multi, total, tables)
        });
        Progress {
            total_steps,
            done: Default::default(),
            bars,
            rows: Default::default(),
            bytes: Default::default(),
            started: std::time::Instant::now(),
        }
    }

    fn finished(&self, plan: &Plan, step: &exec::StepReport) {
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.done.fetch_add(1, Relaxed) + 1;
        if let Outcome::Done { rows, bytes, .. } = step.outcome {
            self.rows.fetch_add(rows, Relaxed);
            self.bytes.fetch_add(bytes, Relaxed);
        }
        let Some((multi, total, tables)) = &self.bars else {
            eprintln!("[{n:>4}/{}] {}", self.total_steps, progress_line(step));
            return;
        };
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let (rows, bytes) = (self.rows.load(Relaxed), self.bytes.load(Relaxed));
        total.set_position(n as u64);
        total.set_message(format!(
            "{rows} rows, {:.0} rows/s, {:.1} MB/s",
            rows as f64 / secs,
            bytes as f64 / 1e6 / secs
        ));
        if step.kind == StepKind::Copy {
            if let Some(bar) = plan.graph[step.node]
                .table
                .as_ref()
                .and_then(|t| tables.get(&t.to_string()))
            {
                bar.inc(1);
            }
        }
        if !matches!(step.outcome, Outcome::Done { .. }) {
            let _ = multi.println(progress_line(step));
        }
    }

    fn clear(&self) {
        if let Some((multi, _, _)) = &self.bars {
            let _ = multi.clear();
        }
    }
}

/// A progress bar on an interactive terminal; hidden (plain lines instead) when
/// stderr is not a terminal or `CI` is set.
fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() || std::env::var_os("CI").is_some() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{{bar:40}} {{pos}}/{{len}} {what} [{{elapsed}} < {{eta}}]"
    )) {
        bar.set_style(style);
    }
    bar
}

fn progress_line(step: &exec::StepReport) -> String {
    match &step.outcome {
        Outcome::Done { rows, bytes, .. } if step.kind == StepKind::Copy => format!(
            "{}  {} rows  {}  {:.2}s",
            step.id,
            plan_rows(*rows),
            crate::plan::render_bytes(*bytes),
            step.elapsed.as_secs_f64()
        ),
        Outcome::Done { .. } => format!("{}  {:.2}s", step.id, step.elapsed.as_secs_f64()),
        Outcome::Failed(reason) => format!("{}  FAILED: {reason}", step.id),
        Outcome::Skipped { cause } => format!("{}  skipped (after {cause} failed)", step.id),
    }
}

fn plan_rows(n: u64) -> String {
    crate::plan::render_rows(Some(n))
}

/// Rows, bytes and seconds per table, and in total.
fn print_summary(plan: &Plan, report: &RunReport) {
    #[derive(Default)]
    struct Acc {
        rows: u64,
        bytes: u64,
        first: Option<Duration>,
        last: Duration,
    }
    let mut per_table: BTreeMap<String, Acc> = BTreeMap::new();
    for s in &report.steps {
        if s.kind != StepKind::Copy {
            continue;
        }
        let Outcome::Done { rows, bytes, .. } = s.outcome else {
            continue;
        };
        let table = plan.graph[s.node]
            .table
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default();
        let acc = per_table.entry(table).or_default();
        acc.rows += rows;
        acc.bytes += bytes;
        acc.first = Some(acc.first.map_or(s.started, |f| f.min(s.started)));
        acc.last = acc.last.max(s.started + s.elapsed);
    }
    println!("\nMoved:");
    let (mut rows, mut bytes) = (0u64, 0u64);
    for t in &plan.tables {
        let key = t.target.to_string();
        let Some(acc) = per_table.get(&key) else {
            continue;
        };
        let secs = (acc.last - acc.first.unwrap_or_default()).as_secs_f64();
        println!(
            "  {key}: {} rows, {}, {secs:.2}s ({:.0} rows/s)",
            acc.rows,
            crate::plan::render_bytes(acc.bytes),
            acc.rows as f64 / secs.max(1e-9)
        );
        rows += acc.rows;
        bytes += acc.bytes;
    }
    let secs = report.elapsed.as_secs_f64();
    println!(
        "  total: {rows} rows, {} in {secs:.2}s end to end ({:.0} rows/s, {:.1} MB/s)",
        crate::plan::render_bytes(bytes),
        rows as f64 / secs.max(1e-9),
        bytes as f64 / 1e6 / secs.max(1e-9)
    );
}
