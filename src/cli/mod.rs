//! The command line: parse arguments, call the use cases, print what they report,
//! and turn their outcome into one line on error and an exit code. It decides nothing.
//!
//! Exit codes: 0 success; 1 an error while talking to a database or running a step;
//! 2 invalid input (command line, spec, or a plan that cannot be made);
//! 3 the move finished but verification found a mismatch; 130 interrupted.

mod archive;
mod progress;
mod run;
mod specs;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio_postgres::Client;

use crate::Error;
use crate::pg::Role;
use crate::spec::{self, MAX_WORKERS, Spec, VerifyLevel};

use self::archive::*;
use self::run::*;
use self::specs::*;

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
        /// Also check the source for a live move (`apply --follow`): the slot and
        /// publication it would create, what would refuse it and the risks it would
        /// run with (an unlimited `max_slot_wal_keep_size`, …). Writes nothing.
        #[arg(long)]
        follow: bool,
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
        /// Pause the source's scheduled jobs that touch the moved tables (retention,
        /// compression, refresh policies, user jobs) for the move, and restore their
        /// state afterwards, even on failure or Ctrl-C; the target's journal records
        /// them, so a killed run's next apply, or `clean`, restores them too.
        #[arg(long)]
        pause_source_jobs: bool,
        /// Drop the moved tables and the journal of an earlier run of this spec, then
        /// start over (asks for a typed confirmation unless --yes).
        #[arg(long)]
        restart: bool,
        /// A live move: copy in the snapshot of a new logical replication slot, then
        /// apply every change committed on the source until `hypermove cutover`
        /// completes the move (exit 0). Ctrl-C stops it; the same command resumes.
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Finish a live move (`apply --follow` running elsewhere): wait until the follower
    /// applied everything up to the source's current WAL position, set the target's
    /// sequences, verify every window by checksum, drop the slot and publication on the
    /// source, and let the follower exit 0. Stop writes on the source first.
    Cutover {
        /// The spec file (YAML).
        spec: PathBuf,
        /// Give up waiting for the follower after this many seconds (the slot stays).
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        timeout: u64,
    },
    /// Compare source and target window by window, at any time: after apply, after a
    /// resume, or against a live pair. Exit 0 when everything matches, 3 on a mismatch.
    Verify {
        /// The spec file (YAML).
        spec: PathBuf,
        /// `count` (rows per window), `checksum` (rows and a hash of every value, read with
        /// COPY from both sides) or `checksum-sql` (the same computed by each server).
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
    /// and the latest verification of every window; and the compression of its
    /// compressed target tables as they are now.
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
                follow,
                overrides,
            } => {
                let shown = PlanShown {
                    format,
                    detailed,
                    follow,
                };
                let result = cmd_plan(&spec, shown, out.as_deref(), &overrides).await;
                match (detailed_exitcode, result) {
                    (false, Ok(_)) => Ok(0),
                    (true, Ok(changes)) => Ok(if changes { 2 } else { 0 }),
                    // With --detailed-exitcode, 2 means "changes", so every error is 1.
                    (true, Err(f)) => Err(Error::runtime(f)),
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
                pause_source_jobs,
                restart,
                follow,
                overrides,
            } => {
                let run = RunOptions {
                    workers,
                    stall_timeout: Duration::from_secs(stall_timeout),
                    no_snapshot,
                    pause_source_jobs,
                    restart,
                    follow,
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
            Command::Cutover { spec, timeout } => {
                run::cmd_cutover(&spec, Duration::from_secs(timeout)).await
            }
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
                    .map_err(|e| Error::runtime(format!("writing the manual page: {e}")))?;
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
            for line in f.to_string().lines() {
                eprintln!("hypermove: {line}");
            }
            ExitCode::from(f.exit_code())
        }
    }
}

fn load(path: &Path) -> Result<Spec, Error> {
    spec::load(path).map_err(Error::refused)
}

/// Ask on the terminal; true only when the answer is exactly `expected`.
fn confirm(prompt: &str, expected: &str) -> Result<bool, Error> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::runtime(format!("reading the answer: {e}")))?;
    Ok(answer.trim() == expected)
}

/// Watch Ctrl-C for a command that writes: the first stops new steps and lets
/// running ones finish or roll back (the returned flag is set); the second exits at
/// once, and the server rolls back open transactions, so the journal stays
/// consistent either way.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    crate::interrupt::Interrupt::watch(
        "hypermove: stopping: running steps finish or roll back; press Ctrl-C again to abort now",
        Some("hypermove: aborted; open transactions roll back; `hypermove apply` resumes"),
    )
    .detach()
}

/// A target session with the settings that make text forms equal on both sides,
/// for a restore, which has no source connection.
async fn connect_target(info: &crate::pg::ConnInfo, app: &str) -> Result<Client, Error> {
    crate::pg::session::open(info, Role::Target, app)
        .await
        .map_err(Error::runtime)
}
