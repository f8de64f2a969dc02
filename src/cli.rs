//! The command line: parse arguments, wire the layers together, print one line on error.
//!
//! Exit codes: 0 success; 1 an error while talking to a database or running a step;
//! 2 invalid input (command line, spec, or a plan that cannot be made);
//! 3 the move finished but verification found a mismatch.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::exec::{self, Event, ExecConfig, Outcome, RunReport};
use crate::pg::{Role, connect};
use crate::plan::{self, Plan, StepKind};
use crate::spec::{self, MAX_WORKERS, Spec};
use crate::verify;

/// Move and reshape TimescaleDB data between servers and versions, from a reviewed plan.
#[derive(Debug, Parser)]
#[command(name = "hypermove", version, about)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Introspect both databases and print the plan. Writes nothing anywhere.
    Plan {
        /// The spec file (YAML).
        spec: PathBuf,
    },
    /// Build the plan and run it: schema, data windows in parallel, indexes, constraints, verification.
    Apply {
        /// The spec file (YAML).
        spec: PathBuf,
        /// Steps to run at once (overrides `workers:` in the spec).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_WORKERS as i64))]
        workers: Option<u16>,
    },
    /// Print the JSON Schema of the spec format (for editors and CI checks).
    Schema,
}

/// An error at the edge: the one line to print and the exit code.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn input(message: impl ToString) -> Self {
        Self {
            code: 2,
            message: message.to_string(),
        }
    }
    fn runtime(message: impl ToString) -> Self {
        Self {
            code: 1,
            message: message.to_string(),
        }
    }
}

impl From<plan::PlanError> for Failure {
    fn from(e: plan::PlanError) -> Self {
        match e {
            plan::PlanError::Catalog { .. } => Failure::runtime(e),
            _ => Failure::input(e),
        }
    }
}

/// Parse the command line, run, and turn the result into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "hypermove=info",
        _ => "hypermove=debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hypermove: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Plan { spec } => cmd_plan(&spec).await,
            Command::Apply { spec, workers } => cmd_apply(&spec, workers).await,
            Command::Schema => {
                print!("{}", spec::json_schema());
                Ok(0)
            }
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("hypermove: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn load(path: &Path) -> Result<Spec, Failure> {
    spec::load(path).map_err(Failure::input)
}

/// `plan`: the same path as `apply` up to the plan, then print it.
async fn cmd_plan(path: &Path) -> Result<u8, Failure> {
    let spec = load(path)?;
    let mut source = connect(&spec.source, Role::Source, "hypermove plan")
        .await
        .map_err(Failure::runtime)?;
    let target = connect(&spec.target, Role::Target, "hypermove plan")
        .await
        .map_err(Failure::runtime)?;
    // The same snapshot transaction apply uses, so both read the catalog the same way.
    let (tx, _snapshot) = exec::begin_snapshot(&mut source)
        .await
        .map_err(Failure::runtime)?;
    target
        .batch_execute(crate::catalog::SESSION_SETUP)
        .await
        .map_err(|e| Failure::runtime(crate::pg::describe_error(&e)))?;
    let inputs = plan::gather(&spec, &tx, &target).await?;
    let plan = plan::build(&spec, &inputs)?;
    print!("{}", plan::render_text(&plan, &path.display().to_string()));
    Ok(0)
}

/// `apply`: plan inside the snapshot, run, verify, report.
async fn cmd_apply(path: &Path, workers: Option<u16>) -> Result<u8, Failure> {
    let spec = load(path)?;
    let mut source = connect(&spec.source, Role::Source, "hypermove coordinator")
        .await
        .map_err(Failure::runtime)?;
    let target = connect(&spec.target, Role::Target, "hypermove coordinator")
        .await
        .map_err(Failure::runtime)?;
    let (tx, snapshot) = exec::begin_snapshot(&mut source)
        .await
        .map_err(Failure::runtime)?;
    target
        .batch_execute(crate::catalog::SESSION_SETUP)
        .await
        .map_err(|e| Failure::runtime(crate::pg::describe_error(&e)))?;
    let inputs = plan::gather(&spec, &tx, &target).await?;
    let plan = plan::build(&spec, &inputs)?;
    print!("{}", plan::render_text(&plan, &path.display().to_string()));
    println!();
    let _ = std::io::stdout().flush();

    let config = ExecConfig {
        source: spec.source.clone(),
        target: spec.target.clone(),
        workers: workers.map(usize::from).unwrap_or(spec.workers),
        snapshot: Some(snapshot),
    };
    let total = plan.graph.node_count();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let report = exec::run(&plan, &config, &|event| {
        let Event::Finished(step) = event;
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        eprintln!("[{n:>4}/{total}] {}", progress_line(step));
    })
    .await;
    // Every window has been read; the snapshot may go.
    let _ = tx.rollback().await;

    print_summary(&plan, &report);
    let verdict = verify::judge(&plan, &report);
    let failures: Vec<(&str, &str)> = report.failures().collect();
    if !failures.is_empty() {
        for (id, reason) in &failures {
            eprintln!("hypermove: step {id} failed: {reason}");
        }
        let skipped = report
            .steps
            .iter()
            .filter(|s| matches!(s.outcome, Outcome::Skipped { .. }))
            .count();
        return Err(Failure::runtime(format!(
            "{} step{} failed, {skipped} skipped because of {}",
            failures.len(),
            if failures.len() == 1 { "" } else { "s" },
            if failures.len() == 1 { "it" } else { "them" }
        )));
    }
    for c in &verdict.checks {
        println!(
            "{} {}: {} source {} / target {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.id,
            c.what,
            c.source.as_deref().unwrap_or("-"),
            c.target.as_deref().unwrap_or("-")
        );
    }
    if !verdict.ok() {
        eprintln!("hypermove: verification failed: the target does not match the source");
        return Ok(3);
    }
    Ok(0)
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
