//! The command line: parse arguments, wire the layers together, print one line on error.
//!
//! Exit codes: 0 success; 1 an error while talking to a database or running a step;
//! 2 invalid input (command line, spec, or a plan that cannot be made);
//! 3 the move finished but verification found a mismatch.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio_postgres::{Client, Transaction};

use crate::exec::{self, Event, ExecConfig, Outcome, RunReport};
use crate::pg::{Role, connect};
use crate::plan::{self, Plan, StepKind};
use crate::spec::{self, MAX_WORKERS, Spec, VerifyLevel};
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

/// How `plan` prints the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// For people: legend, per-table before → after, steps with their SQL, summary.
    Text,
    /// Versioned, sorted JSON; the same as a saved plan.
    Json,
    /// Graphviz: `hypermove plan SPEC --format dot | dot -Tsvg > plan.svg`.
    Dot,
}

/// Spec settings that the command line can override; they change the plan, so
/// `plan` and `apply` take the same ones.
#[derive(Debug, Clone, Default, clap::Args)]
struct Overrides {
    /// How to verify the move (overrides `verify:` in the spec).
    #[arg(long, value_enum)]
    verify: Option<VerifyLevel>,
    /// Split windows estimated above this many rows (overrides `max_window_rows:`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_window_rows: Option<u64>,
    /// Split windows estimated above this many bytes (overrides `max_window_bytes:`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_window_bytes: Option<u64>,
}

impl Overrides {
    fn any(&self) -> bool {
        self.verify.is_some() || self.max_window_rows.is_some() || self.max_window_bytes.is_some()
    }

    fn apply(&self, spec: &mut Spec) {
        if let Some(v) = self.verify {
            spec.verify = v;
        }
        if self.max_window_rows.is_some() {
            spec.max_window_rows = self.max_window_rows;
        }
        if self.max_window_bytes.is_some() {
            spec.max_window_bytes = self.max_window_bytes;
        }
    }
}

/// How `verify` and `status` print their report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    /// For people.
    Text,
    /// Versioned, sorted JSON.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Introspect both databases and print the plan. Writes nothing to any database.
    Plan {
        /// The spec file (YAML).
        spec: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also save the plan, with fingerprints of the spec and both catalogs, to this
        /// file. `hypermove apply FILE` then runs exactly this plan, or refuses if
        /// anything it was made from has changed.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// List every copy and verify window in the text plan (by default each table
        /// lists its first five of each, then how many more there are).
        #[arg(long)]
        detailed: bool,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Back up tables to a directory: manifest.json, schema.sql, and one CSV file
    /// (with a header, zstd-compressed by default) per window, all read in one
    /// snapshot. Run it again to resume an interrupted backup.
    #[command(group(clap::ArgGroup::new("input").required(true).args(["spec", "source"])))]
    Backup {
        /// A spec whose `target:` is `{directory: PATH}`.
        spec: Option<PathBuf>,
        /// Back up from this database instead of a spec's source (with --to).
        #[arg(long, requires = "to", value_name = "URL")]
        source: Option<String>,
        /// With --source: tables to back up, as `schema.table` globs (default `*.*`).
        #[arg(long, requires = "source", value_name = "PATTERN")]
        include: Vec<String>,
        /// With --source: tables to leave out, as globs.
        #[arg(long, requires = "source", value_name = "PATTERN")]
        exclude: Vec<String>,
        /// With --source: the backup directory (new or empty).
        #[arg(long, requires = "source", value_name = "DIR")]
        to: Option<PathBuf>,
        /// Data file compression.
        #[arg(long, value_enum, default_value = "zstd")]
        compression: crate::archive::manifest::Compression,
        /// `checksum` (the default) records each window's checksum for restore's
        /// verification, at the cost of a second read of each window; `count` only counts.
        #[arg(long, value_enum)]
        verify: Option<VerifyLevel>,
        /// Windows written at once.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_WORKERS as i64))]
        workers: Option<u16>,
    },
    /// Restore a backup into a database, through the same plan, journal, resume and
    /// verification as `apply`. Every file is checked against the manifest first.
    ///
    /// Given a directory, it restores every table as it was (to --target). Given a
    /// spec whose `source:` is `{directory: PATH}`, it restores the tables the spec
    /// selects, with the spec's new create_hypertable parameters and names.
    Restore {
        /// A backup directory, or a spec file (YAML).
        path: PathBuf,
        /// The database to restore into (with a directory).
        #[arg(long, value_name = "URL")]
        target: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Files loaded at once.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_WORKERS as i64))]
        workers: Option<u16>,
        /// Verification level (default: the spec's, else checksum when the backup has checksums).
        #[arg(long, value_enum)]
        verify: Option<VerifyLevel>,
    },
    /// Run a plan: schema, data windows in parallel, indexes, constraints, verification.
    ///
    /// Given a spec, it prints the plan and asks for a typed `yes` (or takes `--yes`).
    /// Given a saved plan (a `.json` file from `plan --out`), it first checks that
    /// nothing the plan was made from has changed, and runs it without asking.
    Apply {
        /// A spec file (YAML), or a saved plan (`.json`).
        spec_or_plan: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Steps to run at once (overrides `workers:` in the spec).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_WORKERS as i64))]
        workers: Option<u16>,
        /// Cancel and retry a COPY that moves no data for this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
        stall_timeout: u64,
        /// Read without a shared snapshot (for sources that cannot export one): each
        /// worker reads its own instant, so a live source may give inconsistent windows.
        #[arg(long)]
        no_snapshot: bool,
        /// Drop the moved tables and the journal of an earlier run of this spec, then
        /// start over (asks for a typed confirmation unless --yes).
        #[arg(long)]
        restart: bool,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Compare source and target window by window, at any time: after apply, after a
    /// resume, or against a live pair. Exit 0 when everything matches, 3 on a mismatch.
    Verify {
        /// The spec file (YAML).
        spec: PathBuf,
        /// `count` (rows per window) or `checksum` (rows and a checksum of every value).
        /// Default: the spec's `verify:`, or checksum.
        #[arg(long, value_enum)]
        verify: Option<VerifyLevel>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// For each differing window, show up to N differing rows, paired by primary key.
        #[arg(long, value_name = "N")]
        diff: Option<usize>,
        /// Windows checked at once (overrides `workers:` in the spec).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_WORKERS as i64))]
        workers: Option<u16>,
    },
    /// Show what the target's journal records for a spec: whether the move completed,
    /// and the latest verification of every window.
    Status {
        /// The spec file (YAML).
        spec: PathBuf,
        /// Report format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Check specs offline: exit 0 when every one is valid, 1 with every error listed.
    Validate {
        /// Spec files (YAML).
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        /// Also check each spec against its live source: tables and columns exist,
        /// types fit, unique keys include the partitioning columns.
        #[arg(long)]
        online: bool,
    },
    /// Write a complete, commented spec from a live database to stdout. Applied
    /// unchanged, it reproduces the source's layout; edit chunk_time_interval to re-chunk.
    Init {
        /// The source database (URI or key=value DSN; PG* variables and ~/.pgpass apply).
        #[arg(long)]
        source: String,
        /// The target database to write into the spec.
        #[arg(long, default_value = "${HYPERMOVE_TARGET}")]
        target: String,
        /// Only tables whose `schema.table` matches (glob; repeatable).
        #[arg(long)]
        include: Vec<String>,
    },
    /// Forget a spec on its target: the journal of its runs, its completion record
    /// and its verdicts. The moved tables stay as they are.
    Clean {
        /// The spec file (YAML).
        spec: PathBuf,
    },
    /// Print the JSON Schema of the spec format (for editors and CI checks).
    Schema,
    /// Print a shell completion script: `hypermove completions bash > /etc/bash_completion.d/hypermove`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `hypermove man > hypermove.1; man ./hypermove.1`.
    Man,
    /// Dump a whole database with pg_dump (custom format) into DIR, with a manifest:
    /// versions, the dump's SHA-256 and exact row counts taken in the dump's snapshot.
    DumpDb {
        /// The source database (URI or key=value DSN; PG* variables and ~/.pgpass apply).
        #[arg(long)]
        source: String,
        /// The directory to write (created if missing; refused if it holds a complete dump).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// The pg_dump to run; its major version must be the source server's or newer.
        #[arg(long, value_name = "PATH", default_value = "pg_dump")]
        pg_dump: PathBuf,
    },
    /// Restore a dump-db directory into a new database: checks first (checksum, same
    /// TimescaleDB version, new database, tool versions), then the TimescaleDB restore
    /// steps, and compares every row count with the manifest. Exit 3 on a mismatch.
    RestoreDb {
        /// A directory written by `hypermove dump-db`.
        dir: PathBuf,
        /// The database to create and restore into (it must not exist yet).
        #[arg(long)]
        target: String,
        /// The pg_restore to run; its major version must be the target server's or newer.
        #[arg(long, value_name = "PATH", default_value = "pg_restore")]
        pg_restore: PathBuf,
        /// pg_restore jobs for the data and post-data (TimescaleDB's catalog is always serial).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
        /// Do not restore ownership: every object belongs to the target user.
        #[arg(long)]
        no_owner: bool,
    },
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
            Command::Plan {
                spec,
                format,
                out,
                detailed_exitcode,
                detailed,
                overrides,
            } => {
                let result = cmd_plan(&spec, format, detailed, out.as_deref(), &overrides).await;
                match (detailed_exitcode, result) {
                    (false, Ok(_)) => Ok(0),
                    (true, Ok(changes)) => Ok(if changes { 2 } else { 0 }),
                    // With --detailed-exitcode, 2 means "changes", so every error is 1.
                    (true, Err(f)) => Err(Failure::runtime(f.message)),
                    (false, Err(f)) => Err(f),
                }
            }
            Command::Backup {
                spec,
                source,
                include,
                exclude,
                to,
                compression,
                verify,
                workers,
            } => {
                let spec = match (spec, source, to) {
                    (Some(path), _, _) => load(&path)?,
                    (None, Some(source), Some(to)) => {
                        generated_spec(&yaml_text(&source), &yaml_dir(&to), &include, &exclude)?
                    }
                    _ => unreachable!("clap requires a spec or --source with --to"),
                };
                cmd_backup(&spec, compression, verify, workers).await
            }
            Command::Restore {
                path,
                target,
                yes,
                workers,
                verify,
            } => cmd_restore(&path, target.as_deref(), yes, workers, verify).await,
            Command::Apply {
                spec_or_plan,
                yes,
                workers,
                stall_timeout,
                no_snapshot,
                restart,
                overrides,
            } => {
                let run = RunOptions {
                    workers,
                    stall_timeout: Duration::from_secs(stall_timeout),
                    no_snapshot,
                    restart,
                };
                cmd_apply(&spec_or_plan, yes, &run, &overrides).await
            }
            Command::Verify {
                spec,
                verify,
                format,
                diff,
                workers,
            } => cmd_verify(&spec, verify, format, diff, workers).await,
            Command::Status { spec, format } => cmd_status(&spec, format).await,
            Command::Validate { specs, online } => cmd_validate(&specs, online).await,
            Command::Clean { spec } => cmd_clean(&spec).await,
            Command::Init {
                source,
                target,
                include,
            } => cmd_init(&source, &target, &include).await,
            Command::Schema => {
                print!("{}", spec::json_schema());
                Ok(0)
            }
            Command::Completions { shell } => {
                // Generated from the same clap definitions that parse the arguments.
                let mut command = <Cli as clap::CommandFactory>::command();
                clap_complete::generate(shell, &mut command, "hypermove", &mut std::io::stdout());
                Ok(0)
            }
            Command::Man => {
                let command = <Cli as clap::CommandFactory>::command();
                clap_mangen::Man::new(command)
                    .render(&mut std::io::stdout())
                    .map_err(|e| Failure::runtime(format!("writing the manual page: {e}")))?;
                Ok(0)
            }
            Command::DumpDb {
                source,
                to,
                pg_dump,
            } => cmd_dump_db(&source, &to, &pg_dump).await,
            Command::RestoreDb {
                dir,
                target,
                pg_restore,
                jobs,
                no_owner,
            } => cmd_restore_db(&dir, &target, &pg_restore, jobs, no_owner).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            // One line per problem: a spec can have several.
            for line in f.message.lines() {
                eprintln!("hypermove: {line}");
            }
            ExitCode::from(f.code)
        }
    }
}

fn load(path: &Path) -> Result<Spec, Failure> {
    spec::load(path).map_err(Failure::input)
}

/// Connect to both sides, open the snapshot on the source, read both catalogs inside
/// it and build the plan. `plan` and `apply` both come through here.
async fn plan_in_snapshot<'a>(
    spec: &Spec,
    source: &'a mut Client,
    target: &Client,
    export: bool,
) -> Result<(Transaction<'a>, Option<String>, Plan), Failure> {
    let (tx, snapshot) = exec::begin_snapshot(source, export)
        .await
        .map_err(Failure::runtime)?;
    target
        .batch_execute(crate::catalog::SESSION_SETUP)
        .await
        .map_err(|e| Failure::runtime(crate::pg::describe_error(&e)))?;
    let inputs = plan::gather(spec, &tx, target).await?;
    let plan = plan::build(spec, &inputs)?;
    Ok((tx, snapshot, plan))
}

async fn connect_both(spec: &Spec, app: &str) -> Result<(Client, Client), Failure> {
    let source = connect(spec.source_db().map_err(Failure::input)?, Role::Source, app)
        .await
        .map_err(Failure::runtime)?;
    let target = connect(spec.target_db().map_err(Failure::input)?, Role::Target, app)
        .await
        .map_err(Failure::runtime)?;
    Ok((source, target))
}

/// `plan`: print the plan; returns whether it has changes.
async fn cmd_plan(
    path: &Path,
    format: Format,
    detailed: bool,
    out: Option<&Path>,
    overrides: &Overrides,
) -> Result<bool, Failure> {
    let mut spec = load(path)?;
    overrides.apply(&mut spec);
    let plan = if spec.target.directory().is_some() {
        // A backup's plan: what `hypermove backup` would write.
        let source_info = spec.source_db().map_err(Failure::input)?;
        let mut source = connect(source_info, Role::Source, "hypermove plan")
            .await
            .map_err(Failure::runtime)?;
        let (tx, _) = exec::begin_snapshot(&mut source, false)
            .await
            .map_err(Failure::runtime)?;
        let planned = crate::archive::backup::plan_backup(&spec, &tx, spec.verify).await;
        let _ = tx.rollback().await;
        match planned {
            Ok((_, _, plan)) => plan,
            Err(crate::archive::backup::BackupError::Plan(e)) => return Err(e.into()),
            Err(e) => return Err(Failure::input(e)),
        }
    } else if spec.source.directory().is_some() {
        // A restore's plan: what `hypermove restore` would run.
        let target =
            connect_target(spec.target_db().map_err(Failure::input)?, "hypermove plan").await?;
        match crate::archive::restore::plan_restore(&spec, &target).await {
            Ok(plan) => plan,
            Err(crate::archive::restore::RestoreError::Plan(e)) => return Err(e.into()),
            Err(e) => return Err(Failure::input(e)),
        }
    } else {
        let (mut source, target) = connect_both(&spec, "hypermove plan").await?;
        let (tx, _snapshot, plan) = plan_in_snapshot(&spec, &mut source, &target, false).await?;
        let _ = tx.rollback().await;
        plan
    };
    match format {
        Format::Text => print!("{}", plan::render_text(&plan, detailed)),
        Format::Json => print!("{}", plan::render_json(&plan)),
        Format::Dot => print!("{}", plan::render_dot(&plan)),
    }
    if let Some(out) = out {
        crate::archive::manifest::write_atomically(out, plan::render_json(&plan).as_bytes())
            .map_err(|e| {
                Failure::runtime(format!("cannot save the plan to {}: {e}", out.display()))
            })?;
        eprintln!(
            "Saved the plan to {0}. To run exactly this plan: hypermove apply {0}",
            out.display()
        );
    }
    Ok(plan.has_changes())
}

/// How `apply` runs, beyond what the plan says.
struct RunOptions {
    workers: Option<u16>,
    stall_timeout: Duration,
    no_snapshot: bool,
    restart: bool,
}

/// `apply`: from a saved plan (checked for staleness), or from a spec (confirmed).
async fn cmd_apply(
    path: &Path,
    yes: bool,
    run: &RunOptions,
    overrides: &Overrides,
) -> Result<u8, Failure> {
    if path.extension().is_some_and(|e| e == "json") {
        if overrides.any() || run.restart {
            return Err(Failure::input(
                "--verify, --max-window-* and --restart cannot change a saved plan; make the plan again with them",
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", path.display())))?;
        let saved: plan::SavedPlan = serde_json::from_str(&text).map_err(|e| {
            Failure::input(format!("{} is not a hypermove plan: {e}", path.display()))
        })?;
        if saved.format_version != plan::FORMAT_VERSION
            || saved.hypermove_version != env!("CARGO_PKG_VERSION")
        {
            return Err(Failure::input(format!(
                "{} was made by hypermove {} (plan format {}); this is hypermove {} (format {}): make the plan again",
                path.display(),
                saved.hypermove_version,
                saved.format_version,
                env!("CARGO_PKG_VERSION"),
                plan::FORMAT_VERSION
            )));
        }
        let spec = load(Path::new(&saved.spec))?;
        return execute(&spec, Some(&saved.fingerprints), run).await;
    }

    let mut spec = load(path)?;
    overrides.apply(&mut spec);
    if run.restart {
        restart(&spec, yes).await?;
    }
    if yes {
        return execute(&spec, None, run).await;
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::input(
            "refusing to apply without confirmation: standard input is not a terminal; review with `hypermove plan`, then pass --yes or apply a saved plan",
        ));
    }
    // Show the plan without holding a snapshot while a person reads it; after the
    // `yes`, the plan is made again in a fresh snapshot and must match what was shown.
    let (mut source, target) = connect_both(&spec, "hypermove plan").await?;
    let (tx, _snapshot, shown) = plan_in_snapshot(&spec, &mut source, &target, false).await?;
    let _ = tx.rollback().await;
    drop((source, target));
    print!("{}", plan::render_text(&shown, false));
    if !shown.has_changes() {
        return Ok(0);
    }
    if !confirm(
        "\nDo you want to apply this plan? Only 'yes' will be accepted: ",
        "yes",
    )? {
        return Err(Failure::runtime("apply cancelled; nothing was written"));
    }
    execute(&spec, Some(&shown.fingerprints), run).await
}

/// Plan inside the snapshot, check it against what was reviewed, run, verify, report.
async fn execute(
    spec: &Spec,
    reviewed: Option<&plan::Fingerprints>,
    run: &RunOptions,
) -> Result<u8, Failure> {
    let (mut source, target) = connect_both(spec, "hypermove coordinator").await?;
    let (tx, snapshot, plan) =
        plan_in_snapshot(spec, &mut source, &target, !run.no_snapshot).await?;
    match reviewed {
        Some(reviewed) => {
            // Nothing is written before this check.
            let changed = plan::differences(reviewed, &plan.fingerprints);
            if !changed.is_empty() {
                return Err(Failure::input(format!(
                    "the plan is stale, nothing was written: {} since it was reviewed; run `hypermove plan` again",
                    changed.join(", ")
                )));
            }
        }
        None => {
            print!("{}", plan::render_text(&plan, false));
        }
    }
    let source_info = spec.source_db().map_err(Failure::input)?.clone();
    let target_info = spec.target_db().map_err(Failure::input)?.clone();
    run_planned(
        spec,
        &target_info,
        Some(source_info),
        &plan,
        snapshot,
        target,
        Some(tx),
        run,
    )
    .await
}

/// Run a plan that has been made (and checked against what was reviewed): journal,
/// parallel steps, summary, verification, and the closing journal records.
/// `apply` and `restore` both come through here. `snapshot_tx` holds the source
/// snapshot open until every window has been read.
#[allow(clippy::too_many_arguments)]
async fn run_planned(
    spec: &Spec,
    target_info: &crate::pg::ConnInfo,
    source: Option<crate::pg::ConnInfo>,
    plan: &Plan,
    snapshot: Option<String>,
    target: Client,
    snapshot_tx: Option<Transaction<'_>>,
    run: &RunOptions,
) -> Result<u8, Failure> {
    if !plan.has_changes() {
        println!("Nothing to do.");
        return Ok(0);
    }
    println!();
    let _ = std::io::stdout().flush();

    let key = exec::JournalKey {
        spec: plan.fingerprints.spec.clone(),
        source: plan::combined_fingerprint(&plan.fingerprints.source),
    };
    // One run of a spec at a time on a target: a second one stops here.
    exec::lock_run(&target, &key.spec)
        .await
        .map_err(Failure::input)?;
    // The first write of the run: the journal, recording the target as planned.
    exec::journal_begin(&target, &key, &plan.target_inputs, plan.graph.node_count())
        .await
        .map_err(Failure::runtime)?;
    if snapshot.is_none() && source.is_some() {
        eprintln!("hypermove: no shared snapshot: each worker reads the source at its own instant");
    }
    let stop = Arc::new(AtomicBool::new(false));
    watch_ctrl_c(Arc::clone(&stop));
    let config = ExecConfig {
        source,
        target: target_info.clone(),
        workers: run.workers.map(usize::from).unwrap_or(spec.workers),
        snapshot,
        journal: Some(key.clone()),
        stall_timeout: run.stall_timeout,
        stop,
    };
    let progress = Progress::new(plan);
    let report = exec::run(plan, &config, &|event| {
        let Event::Finished(step) = event;
        progress.finished(plan, step);
    })
    .await;
    progress.clear();
    // Every window has been read; the snapshot may go.
    if let Some(tx) = snapshot_tx {
        let _ = tx.rollback().await;
    }

    print_summary(plan, &report);
    // The coordinator's target connection sat idle through the run; if the target
    // restarted meanwhile it is gone, so the closing journal writes use a fresh one.
    let target = if target.is_closed() {
        connect(target_info, Role::Target, "hypermove coordinator")
            .await
            .map_err(Failure::runtime)?
    } else {
        target
    };
    let failures: Vec<(&str, &str)> = report.failures().collect();
    exec::record_failures(&target, &key, &failures)
        .await
        .map_err(Failure::runtime)?;
    if report.interrupted && failures.is_empty() {
        let done = plan.done.len()
            + report
                .steps
                .iter()
                .filter(|s| matches!(s.outcome, Outcome::Done { .. }))
                .count();
        return Err(Failure {
            code: 130,
            message: format!(
                "interrupted: {done} of {} steps done, every finished one recorded on the target; run `hypermove apply` again to resume",
                plan.graph.node_count()
            ),
        });
    }
    let verdict = verify::judge(plan, &report);
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
    print!("\n{}", verify::render_text(&verdict));
    verify::record(&target, &plan.fingerprints.spec, &verdict)
        .await
        .map_err(Failure::runtime)?;
    if !verdict.ok() {
        eprintln!("hypermove: verification failed: the target does not match the source");
        return Ok(3);
    }
    exec::journal_finish(&target, &key)
        .await
        .map_err(Failure::runtime)?;
    exec::record_applied(&target, plan)
        .await
        .map_err(Failure::runtime)?;
    Ok(0)
}

/// `verify`: the same windows and queries as apply's verification, on their own.
async fn cmd_verify(
    path: &Path,
    level: Option<VerifyLevel>,
    format: ReportFormat,
    diff: Option<usize>,
    workers: Option<u16>,
) -> Result<u8, Failure> {
    let spec = load(path)?;
    let level = match level.unwrap_or(spec.verify) {
        VerifyLevel::None => VerifyLevel::Checksum,
        other => other,
    };
    let (mut source, target) = connect_both(&spec, "hypermove verify").await?;
    let (tx, snapshot) = exec::begin_snapshot(&mut source, true)
        .await
        .map_err(Failure::runtime)?;
    target
        .batch_execute(crate::catalog::SESSION_SETUP)
        .await
        .map_err(|e| Failure::runtime(crate::pg::describe_error(&e)))?;
    let inputs = plan::gather(&spec, &tx, &target).await?;
    let plan = plan::build_verification(&spec, &inputs, level)?;
    let config = ExecConfig {
        source: Some(spec.source_db().map_err(Failure::input)?.clone()),
        target: spec.target_db().map_err(Failure::input)?.clone(),
        workers: workers.map(usize::from).unwrap_or(spec.workers),
        snapshot,
        journal: None,
        stall_timeout: Duration::from_secs(300),
        stop: Arc::new(AtomicBool::new(false)),
    };
    let bar = progress_bar(plan.graph.node_count() as u64, "windows verified");
    let report = exec::run(&plan, &config, &|event| {
        let Event::Finished(step) = event;
        bar.inc(1);
        if bar.is_hidden() && !matches!(step.outcome, Outcome::Done { .. }) {
            eprintln!("{}", progress_line(step));
        }
    })
    .await;
    bar.finish_and_clear();
    let _ = tx.rollback().await;
    let verdict = verify::judge(&plan, &report);
    let diffs = match diff {
        Some(limit) if !verdict.ok() => verify::diff(
            &plan,
            &verdict,
            spec.source_db().map_err(Failure::input)?,
            spec.target_db().map_err(Failure::input)?,
            limit,
        )
        .await
        .map_err(Failure::runtime)?,
        _ => Vec::new(),
    };
    match format {
        ReportFormat::Text => {
            print!("{}", verify::render_text(&verdict));
            print!("{}", verify::render_diffs(&diffs));
        }
        ReportFormat::Json => print!("{}", verify::render_json(&verdict, &diffs)),
    }
    verify::record(&target, &plan.fingerprints.spec, &verdict)
        .await
        .map_err(Failure::runtime)?;
    if report.failures().next().is_some() {
        return Err(Failure::runtime("some windows could not be verified"));
    }
    Ok(if verdict.ok() { 0 } else { 3 })
}

/// `status`: what the target's journal says about this spec.
async fn cmd_status(path: &Path, format: ReportFormat) -> Result<u8, Failure> {
    let spec = load(path)?;
    let target = connect(
        spec.target_db().map_err(Failure::input)?,
        Role::Target,
        "hypermove status",
    )
    .await
    .map_err(Failure::runtime)?;
    let fingerprint = plan::spec_fingerprint(&spec);
    let applied = crate::catalog::applied_moves(&target)
        .await
        .map_err(Failure::runtime)?
        .iter()
        .any(|(s, _)| *s == fingerprint);
    let checks = verify::recorded(&target, &fingerprint)
        .await
        .map_err(Failure::runtime)?;
    let runs = crate::catalog::unfinished_runs(&target, &fingerprint)
        .await
        .map_err(Failure::runtime)?;
    match format {
        ReportFormat::Json => {
            let value = serde_json::json!({
                "format_version": 1,
                "spec": path.display().to_string(),
                "target": spec.target.to_string(),
                "applied": applied,
                "unfinished_runs": runs.iter().map(|r| serde_json::json!({
                    "steps": r.steps,
                    "done": r.done.len(),
                    "failures": r.failures,
                })).collect::<Vec<_>>(),
                "verification": checks,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).expect("status serializes")
            );
        }
        ReportFormat::Text => {
            println!("hypermove status for {} on {}", path.display(), spec.target);
            println!(
                "  move: {}",
                if applied {
                    "completed and verified"
                } else {
                    "not recorded as complete"
                }
            );
            for r in &runs {
                println!(
                    "  interrupted run: {} of {} steps done; `hypermove apply` resumes it",
                    r.done.len(),
                    r.steps
                );
                for f in &r.failures {
                    println!("    failed: {f}");
                }
            }
            if checks.is_empty() {
                println!("  verification: none recorded");
            } else {
                let failed: Vec<&verify::Recorded> = checks.iter().filter(|c| !c.ok).collect();
                let last = checks
                    .iter()
                    .map(|c| c.verified_at.as_str())
                    .max()
                    .unwrap_or("");
                let totals = checks
                    .iter()
                    .filter(|c| plan::is_table_total(&c.step_id))
                    .count();
                println!(
                    "  verification: {} windows and {totals} row total{}, {} ok, {} failed (latest {last})",
                    checks.len() - totals,
                    if totals == 1 { "" } else { "s" },
                    checks.len() - failed.len(),
                    failed.len()
                );
                for c in failed {
                    println!(
                        "    FAIL {} ({}): source {} / target {}",
                        c.step_id,
                        c.level,
                        c.source.as_deref().unwrap_or("-"),
                        c.target.as_deref().unwrap_or("-")
                    );
                }
            }
        }
    }
    Ok(0)
}

/// `apply --restart`: drop the moved tables and forget the journal, after a typed
/// confirmation. Tables are dropped without CASCADE: anything else that depends
/// on them stops the restart with the server's message instead of vanishing.
async fn restart(spec: &Spec, yes: bool) -> Result<(), Failure> {
    let (mut source, target) = connect_both(spec, "hypermove restart").await?;
    // Never drop the tables of a run that is in progress.
    exec::lock_run(&target, &plan::spec_fingerprint(spec))
        .await
        .map_err(Failure::input)?;
    let (tx, _) = exec::begin_snapshot(&mut source, false)
        .await
        .map_err(Failure::runtime)?;
    let inputs = plan::gather(spec, &tx, &target).await?;
    drop(tx);
    let mut existing = Vec::new();
    for t in &inputs.selection {
        if crate::catalog::relation_exists(&target, &t.target)
            .await
            .map_err(Failure::runtime)?
        {
            existing.push(t.target.clone());
        }
    }
    eprintln!(
        "--restart drops {} table{} on {} and forgets this spec's journal:",
        existing.len(),
        if existing.len() == 1 { "" } else { "s" },
        spec.target
    );
    for t in &existing {
        eprintln!("  {t}");
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::input(
                "refusing to restart without confirmation: standard input is not a terminal; pass --yes",
            ));
        }
        if !confirm("Type `restart` to go on: ", "restart")? {
            return Err(Failure::runtime("restart cancelled; nothing was dropped"));
        }
    }
    exec::drop_tables(&target, &existing)
        .await
        .map_err(Failure::runtime)?;
    exec::clean(&target, &plan::spec_fingerprint(spec))
        .await
        .map_err(Failure::runtime)?;
    Ok(())
}

/// Ask on the terminal; true only when the answer is exactly `expected`.
fn confirm(prompt: &str, expected: &str) -> Result<bool, Failure> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Failure::runtime(format!("reading the answer: {e}")))?;
    Ok(answer.trim() == expected)
}

/// First Ctrl-C: stop starting steps and let running ones finish or roll back.
/// Second: exit at once; the server rolls back open transactions, so the journal
/// stays consistent either way.
fn watch_ctrl_c(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        stop.store(true, Ordering::Relaxed);
        eprintln!(
            "hypermove: stopping: running steps finish or roll back; press Ctrl-C again to abort now"
        );
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("hypermove: aborted; open transactions roll back; `hypermove apply` resumes");
            std::process::exit(130);
        }
    });
}

/// `clean`: forget the spec's journal on the target.
async fn cmd_clean(path: &Path) -> Result<u8, Failure> {
    let spec = load(path)?;
    let target = connect(
        spec.target_db().map_err(Failure::input)?,
        Role::Target,
        "hypermove clean",
    )
    .await
    .map_err(Failure::runtime)?;
    // Never forget the journal of a run that is in progress.
    exec::lock_run(&target, &plan::spec_fingerprint(&spec))
        .await
        .map_err(Failure::input)?;
    let removed = exec::clean(&target, &plan::spec_fingerprint(&spec))
        .await
        .map_err(Failure::runtime)?;
    println!(
        "Removed {removed} journal row{} of {} from {}; the moved tables are untouched.",
        if removed == 1 { "" } else { "s" },
        path.display(),
        spec.target
    );
    Ok(0)
}

/// `validate`: every spec, every error; exit 1 if any spec is invalid.
async fn cmd_validate(paths: &[PathBuf], online: bool) -> Result<u8, Failure> {
    let mut invalid = 0;
    for path in paths {
        let spec = match spec::load(path) {
            Ok(spec) => spec,
            Err(errors) => {
                for e in &errors.0 {
                    eprintln!("{e}");
                }
                invalid += 1;
                continue;
            }
        };
        if online {
            let checked = async {
                let mut source = connect(
                    spec.source_db().map_err(Failure::input)?,
                    Role::Source,
                    "hypermove validate",
                )
                .await
                .map_err(Failure::runtime)?;
                let (tx, _) = exec::begin_snapshot(&mut source, false)
                    .await
                    .map_err(Failure::runtime)?;
                let inputs = plan::gather_source_only(&spec, &tx).await?;
                plan::build(&spec, &inputs)?;
                Ok::<(), Failure>(())
            }
            .await;
            if let Err(f) = checked {
                eprintln!("{}", f.message);
                invalid += 1;
                continue;
            }
        }
        println!(
            "{}: valid{}",
            path.display(),
            if online {
                " (checked against the source)"
            } else {
                ""
            }
        );
    }
    Ok(if invalid == 0 { 0 } else { 1 })
}

/// `init`: a spec from a live source, on stdout.
async fn cmd_init(source: &str, target: &str, include: &[String]) -> Result<u8, Failure> {
    let info = crate::pg::ConnInfo::parse(source).map_err(Failure::input)?;
    let patterns = include
        .iter()
        .map(|p| spec::Pattern::new(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::input)?;
    let mut client = connect(&info, Role::Source, "hypermove init")
        .await
        .map_err(Failure::runtime)?;
    let (tx, _) = exec::begin_snapshot(&mut client, false)
        .await
        .map_err(Failure::runtime)?;
    let text = plan::init_spec(&tx, &info, target, &patterns).await?;
    print!("{text}");
    Ok(0)
}

/// A target session with the settings that make text forms equal on both sides,
/// for a restore, which has no source connection.
async fn connect_target(info: &crate::pg::ConnInfo, app: &str) -> Result<Client, Failure> {
    let target = connect(info, Role::Target, app)
        .await
        .map_err(Failure::runtime)?;
    target
        .batch_execute(crate::catalog::SESSION_SETUP)
        .await
        .map_err(|e| Failure::runtime(crate::pg::describe_error(&e)))?;
    Ok(target)
}

/// A YAML scalar holding `text` exactly (JSON strings are YAML).
fn yaml_text(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// `{directory: PATH}` as YAML.
fn yaml_dir(path: &Path) -> String {
    format!("{{directory: {}}}", yaml_text(&path.to_string_lossy()))
}

/// A spec made from command-line arguments, through the same parser and checks as
/// a spec file.
fn generated_spec(
    source: &str,
    target: &str,
    include: &[String],
    exclude: &[String],
) -> Result<Spec, Failure> {
    let list = |items: &[String]| {
        format!(
            "[{}]",
            items
                .iter()
                .map(|i| yaml_text(i))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let include = if include.is_empty() {
        vec!["*.*".to_string()]
    } else {
        include.to_vec()
    };
    let mut text = format!(
        "version: 1\nsource: {source}\ntarget: {target}\ninclude: {}\n",
        list(&include)
    );
    if !exclude.is_empty() {
        text.push_str(&format!("exclude: {}\n", list(exclude)));
    }
    spec::parse(Path::new("(command line)"), &text).map_err(Failure::input)
}

/// `backup`: write the spec's tables to its target directory.
async fn cmd_backup(
    spec: &Spec,
    compression: crate::archive::manifest::Compression,
    verify: Option<VerifyLevel>,
    workers: Option<u16>,
) -> Result<u8, Failure> {
    use crate::archive::backup::{self, BackupError, BackupOptions};
    let stop = Arc::new(AtomicBool::new(false));
    watch_ctrl_c(Arc::clone(&stop));
    let opts = BackupOptions {
        workers: workers.map(usize::from).unwrap_or(spec.workers),
        compression,
        verify: match verify.unwrap_or(spec.verify) {
            VerifyLevel::Checksum => VerifyLevel::Checksum,
            // Row counts are always recorded.
            _ => VerifyLevel::Count,
        },
        stop,
    };
    let started = std::time::Instant::now();
    let result = backup::backup(spec, &opts, &|f, n, total| {
        println!(
            "  ✓ {}  {} rows  {}  ({n}/{total})",
            f.path,
            f.rows,
            plan::render_bytes(f.bytes)
        );
    })
    .await;
    match result {
        Ok(summary) => {
            let m = &summary.manifest;
            let dir = spec.target.directory().expect("checked by backup");
            println!(
                "\nBackup complete: {} tables, {} rows, {} files in {} ({} written by this run, {}) in {:.1}s",
                m.tables.len(),
                m.tables.iter().map(|t| t.rows).sum::<u64>(),
                m.tables.iter().map(|t| t.files.len()).sum::<usize>(),
                dir.display(),
                summary.written,
                plan::render_bytes(summary.bytes),
                started.elapsed().as_secs_f64()
            );
            println!(
                "Restore it with: hypermove restore {} --target URL",
                dir.display()
            );
            Ok(0)
        }
        Err(e @ BackupError::Refused(_)) => Err(Failure::input(e)),
        Err(e @ BackupError::Plan(_)) => Err(Failure::input(e)),
        Err(e @ BackupError::Interrupted { .. }) => Err(Failure {
            code: 130,
            message: e.to_string(),
        }),
        Err(e) => Err(Failure::runtime(e)),
    }
}

/// `restore`: a backup directory into a database, checked, planned, confirmed, run.
async fn cmd_restore(
    path: &Path,
    target: Option<&str>,
    yes: bool,
    workers: Option<u16>,
    verify: Option<VerifyLevel>,
) -> Result<u8, Failure> {
    use crate::archive::{manifest::Manifest, restore};
    let mut spec = if path.is_dir() {
        let target = target.ok_or_else(|| {
            Failure::input(
                "restore DIR needs --target URL (or give a spec whose source is the directory)",
            )
        })?;
        generated_spec(&yaml_dir(path), &yaml_text(target), &[], &[])?
    } else {
        if target.is_some() {
            return Err(Failure::input(
                "--target goes with a backup directory; a spec names its own target",
            ));
        }
        load(path)?
    };
    if let Some(v) = verify {
        spec.verify = v;
    }
    let dir = spec
        .source
        .directory()
        .ok_or_else(|| {
            Failure::input(format!(
                "{}: the source is a database; `hypermove restore` reads `source: {{directory: PATH}}` (use `hypermove apply` to move between databases)",
                spec.path.display()
            ))
        })?
        .to_path_buf();
    let target_info = spec.target_db().map_err(Failure::input)?.clone();
    let manifest = Manifest::read(&dir).map_err(Failure::input)?;
    let chosen = restore::selection(&spec, &manifest).map_err(Failure::input)?;

    // Every file is checked before anything is written.
    let started = std::time::Instant::now();
    let tables: Vec<usize> = chosen.iter().map(|(_, i)| *i).collect();
    restore::check_files(&dir, &manifest, &tables).map_err(Failure::input)?;
    let files: usize = tables.iter().map(|&t| manifest.tables[t].files.len()).sum();
    let bytes: u64 = tables
        .iter()
        .flat_map(|&t| manifest.tables[t].files.iter().map(|f| f.bytes))
        .sum();
    eprintln!(
        "hypermove: checked {files} files ({}) against the manifest in {:.1}s",
        plan::render_bytes(bytes),
        started.elapsed().as_secs_f64()
    );

    let target = connect_target(&target_info, "hypermove restore").await?;
    let inputs = restore::inputs(&spec, &dir, &manifest, chosen, &target)
        .await
        .map_err(|e| match e {
            restore::RestoreError::Plan(p) => Failure::from(p),
            e => Failure::input(e),
        })?;
    let plan = plan::build(&spec, &inputs)?;
    print!("{}", plan::render_text(&plan, false));
    if !plan.has_changes() {
        println!("Nothing to do.");
        return Ok(0);
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::input(
                "refusing to restore without confirmation: standard input is not a terminal; review the plan above, then pass --yes",
            ));
        }
        if !confirm(
            "\nDo you want to restore into this target? Only 'yes' will be accepted: ",
            "yes",
        )? {
            return Err(Failure::runtime("restore cancelled; nothing was written"));
        }
    }
    println!();
    let run = RunOptions {
        workers,
        stall_timeout: Duration::from_secs(300),
        no_snapshot: true,
        restart: false,
    };
    run_planned(&spec, &target_info, None, &plan, None, target, None, &run).await
}

/// Apply's progress: on an interactive terminal, a bar per table (windows done,
/// rows) and one for the whole run (steps, rows/s, MB/s, ETA); otherwise, and when
/// `CI` is set, one plain line per finished step.
struct Progress {
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

/// `dump-db`: pg_dump of a whole database plus its manifest.
async fn cmd_dump_db(source: &str, dir: &Path, pg_dump: &Path) -> Result<u8, Failure> {
    use crate::archive::whole_db;
    let opts = whole_db::DumpOptions {
        source: crate::pg::ConnInfo::parse(source).map_err(Failure::input)?,
        dir: dir.to_path_buf(),
        pg_dump: pg_dump.to_path_buf(),
    };
    let manifest = whole_db::dump(&opts, &|line| eprintln!("hypermove: {line}"))
        .await
        .map_err(|e| Failure {
            code: e.exit_code(),
            message: e.to_string(),
        })?;
    print!("{}", whole_db::render_dump(&manifest, dir));
    Ok(0)
}

/// `restore-db`: a dump-db directory into a new database, verified against the manifest.
async fn cmd_restore_db(
    dir: &Path,
    target: &str,
    pg_restore: &Path,
    jobs: u16,
    no_owner: bool,
) -> Result<u8, Failure> {
    use crate::archive::whole_db;
    let opts = whole_db::RestoreOptions {
        dir: dir.to_path_buf(),
        target: crate::pg::ConnInfo::parse(target).map_err(Failure::input)?,
        pg_restore: pg_restore.to_path_buf(),
        jobs,
        no_owner,
    };
    let report = whole_db::restore(&opts, &|line| eprintln!("hypermove: {line}"))
        .await
        .map_err(|e| Failure {
            code: e.exit_code(),
            message: e.to_string(),
        })?;
    print!("{}", whole_db::render_restore(&report, dir));
    if !report.ok() {
        eprintln!("hypermove: verification failed: the restored database does not match the dump");
        return Ok(3);
    }
    Ok(0)
}
