//! The restore's steps: checking the target server before anything is written;
//! creating the database, the extension and `timescaledb_pre_restore()`; the
//! pg_restore phases (pre-data, the TimescaleDB catalog serially, the rest in
//! parallel); `timescaledb_post_restore()`, always; and counting what arrived.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::error::{StepError, WholeDbError};
use super::jobs;
use super::manifest::{self, Manifest};
use super::toc::Toc;
use super::{APP_RESTORE, RestoreOptions, Result, TableCheck, fill, short_version};
use crate::catalog;
use crate::interrupt::Interrupt;
use crate::pg::tools::{self, ToolVersion};
use crate::pg::{Role, connect, display_ident, quote_ident, quote_literal};

/// The target server, checked, with a session on its `postgres` database.
pub(super) struct Target {
    /// A session on the server's `postgres` database, for CREATE/DROP DATABASE.
    pub admin: Client,
    /// The database to create.
    pub database: String,
    /// `user@host:port` (no password).
    pub server: String,
}

/// Refuse, before anything is written, a target that cannot take the dump: another
/// TimescaleDB version, no preloaded TimescaleDB, an existing database, no CREATEDB,
/// or a pg_restore older than the server.
pub(super) async fn check_target(
    opts: &RestoreOptions,
    manifest: &Manifest,
    pg_restore: &ToolVersion,
) -> Result<Target> {
    let database = opts.target.dbname().to_string();
    let server = format!("{}@{}", opts.target.user(), opts.target.endpoint());
    let admin_info = opts.target.with_dbname("postgres");
    let admin = connect(&admin_info, Role::Target, APP_RESTORE)
        .await
        .map_err(|e| WholeDbError::Connect(e.to_string()))?;
    let target = catalog::server_info(&admin).await?;
    let ts_version = &manifest.source.timescaledb;
    let row = admin
        .query_one(include_str!("sql/target.sql"), &[&database, ts_version])
        .await
        .map_err(WholeDbError::query("reading the target server"))?;
    let target_major = tools::major_of(target.version_num);
    super::require(
        pg_restore,
        "pg_restore",
        target_major,
        || {
            format!(
                "the target server, PostgreSQL {}",
                short_version(&target.version)
            )
        },
        "--pg-restore",
    )?;
    if let Some(version) = ts_version {
        let exact: bool = row.get("timescaledb_exact");
        if target.timescaledb_available.as_ref() != Some(version) && !exact {
            return Err(WholeDbError::VersionMismatch {
                dump: version.clone(),
                dump_pg: short_version(&manifest.source.postgresql),
                server: server.clone(),
                target_pg: short_version(&target.version),
                target: target
                    .timescaledb_available
                    .as_ref()
                    .map_or("no TimescaleDB at all".to_string(), |v| {
                        format!("TimescaleDB {v}")
                    }),
            });
        }
        if !row.get::<_, bool>("timescaledb_preloaded") {
            return Err(WholeDbError::NotPreloaded { server });
        }
    }
    if row.get::<_, bool>("database_exists") {
        return Err(WholeDbError::TargetExists { database, server });
    }
    if !row.get::<_, bool>("can_create_database") {
        return Err(WholeDbError::NoCreateDb {
            role: opts.target.user().to_string(),
            server,
        });
    }
    Ok(Target {
        admin,
        database,
        server,
    })
}

/// The writing part of a restore: create, pre_restore, the phases, post_restore.
/// Returns each pg_restore phase and how long it took.
pub(super) async fn write(
    opts: &RestoreOptions,
    manifest: &Manifest,
    toc: &Toc,
    target: &Target,
    dump_path: &Path,
    interrupt: &Interrupt,
    progress: &dyn Fn(&str),
) -> Result<Vec<(String, Duration)>> {
    let Target {
        admin,
        database,
        server,
    } = target;
    let failed = |step: &str, cause: StepError, post_restore: Option<StepError>| {
        WholeDbError::RestoreFailed {
            step: step.to_string(),
            cause: Box::new(cause),
            post_restore: post_restore.map(Box::new),
            database: database.to_string(),
            server: server.to_string(),
        }
    };
    let create = fill(
        include_str!("sql/create_database.sql"),
        &[
            ("database", &quote_ident(database)),
            ("encoding", &quote_literal(&manifest.source.encoding)),
        ],
    );
    admin
        .batch_execute(&create)
        .await
        .map_err(WholeDbError::CreateDatabase)?;
    progress(&format!("created database {}", display_ident(database)));

    let ts = manifest.source.timescaledb.as_deref().map(|v| {
        (
            v,
            manifest
                .source
                .timescaledb_schema
                .as_deref()
                .unwrap_or("public"),
        )
    });
    let client = connect(&opts.target, Role::Target, APP_RESTORE)
        .await
        .map_err(|e| {
            failed(
                "connecting to the new database",
                StepError::Connect(e.to_string()),
                None,
            )
        })?;
    if let Some((version, schema)) = ts {
        if let Err(e) = client.batch_execute(&prepare_sql(version, schema)).await {
            // Nothing from the dump is in the new database yet, so it goes again and
            // the target is as it was.
            drop(client);
            let drop_sql = fill(
                include_str!("sql/drop_database.sql"),
                &[("database", &quote_ident(database))],
            );
            return Err(match admin.batch_execute(&drop_sql).await {
                Ok(()) => WholeDbError::PrepareFailed(e),
                Err(d) => failed(
                    "preparing the new database",
                    StepError::NotDropped {
                        prepare: e,
                        drop: d,
                    },
                    None,
                ),
            });
        }
        progress(&format!(
            "installed TimescaleDB {version} and ran timescaledb_pre_restore()"
        ));
    }
    drop(client);

    let mut phases = run_phases(opts, toc, database, dump_path, interrupt, progress).await?;

    // The jobs' next starts, before leaving restore mode: once post_restore restarts
    // the scheduler, a job without one runs at once (see `jobs`). A failure here is a
    // failed step like a phase's: post_restore still runs.
    if let (Some((_, schema)), None, false) = (ts, &phases.failed, manifest.job_starts.is_empty()) {
        let done = match connect(&opts.target, Role::Target, APP_RESTORE).await {
            Ok(c) => jobs::restore(&c, schema, &manifest.job_starts)
                .await
                .map_err(StepError::Query),
            Err(e) => Err(StepError::Connect(e.to_string())),
        };
        match done {
            Ok(n) => progress(&format!("set the next start of {n} job(s) as in the dump")),
            Err(e) => phases.failed = Some(("setting the jobs' next start".to_string(), e)),
        }
    }

    // Always, even after a failed phase: otherwise the database stays in restore
    // mode, with TimescaleDB's planner hooks and background workers off.
    let mut post_error = None;
    if let Some((_, schema)) = ts {
        let post = fill(
            include_str!("sql/post_restore.sql"),
            &[("schema", &quote_ident(schema))],
        );
        let done = match connect(&opts.target, Role::Target, APP_RESTORE).await {
            Ok(c) => c.batch_execute(&post).await.map_err(StepError::Query),
            Err(e) => Err(StepError::Connect(e.to_string())),
        };
        match done {
            Ok(()) => progress("ran timescaledb_post_restore()"),
            Err(e) => post_error = Some(e),
        }
    }
    if let Some((step, cause)) = phases.failed {
        return Err(failed(&step, cause, post_error));
    }
    if let Some(e) = post_error {
        return Err(failed("timescaledb_post_restore()", e, None));
    }
    Ok(phases.done)
}

/// The extension in exactly the dump's version (in its schema), then
/// `timescaledb_pre_restore()`, as one batch.
fn prepare_sql(version: &str, schema: &str) -> String {
    let mut sql = String::new();
    if schema != "public" {
        sql += &fill(
            include_str!("sql/create_schema.sql"),
            &[("schema", &quote_ident(schema))],
        );
        sql += ";\n";
    }
    sql += &fill(
        include_str!("sql/create_extension.sql"),
        &[
            ("schema", &quote_ident(schema)),
            ("version", &quote_literal(version)),
        ],
    );
    sql += ";\n";
    sql += &fill(
        include_str!("sql/pre_restore.sql"),
        &[("schema", &quote_ident(schema))],
    );
    sql
}

/// How the pg_restore phases went.
struct Phases {
    /// Each finished phase and how long it took.
    done: Vec<(String, Duration)>,
    /// The phase that failed (or was not started after a Ctrl-C), and why.
    failed: Option<(String, StepError)>,
}

/// One pg_restore run per phase, stopping at the first failure or Ctrl-C. A failed
/// phase is an outcome, not an error, so that post_restore still runs; the only
/// error is the scratch directory's, before any phase ran.
async fn run_phases(
    opts: &RestoreOptions,
    toc: &Toc,
    database: &str,
    dump_path: &Path,
    interrupt: &Interrupt,
    progress: &dyn Fn(&str),
) -> Result<Phases> {
    let work = ScratchDir::new()?;
    let mut done = Vec::new();
    let fail = |name: String, cause: StepError, done: Vec<(String, Duration)>| Phases {
        done,
        failed: Some((name, cause)),
    };
    for phase in toc.phases(opts.jobs) {
        if interrupt.is_set() {
            return Ok(fail(phase.name, StepError::Interrupted, done));
        }
        if phase.entries.is_empty() {
            continue;
        }
        let list = work.path.join(format!("{}.list", phase.file));
        if let Err(source) = std::fs::write(&list, phase.entries.join("\n") + "\n") {
            let cause = StepError::WriteList { path: list, source };
            return Ok(fail(phase.name, cause, done));
        }
        let started = Instant::now();
        let mut cmd = tools::command(&opts.pg_restore, Some((&opts.target, APP_RESTORE)));
        cmd.arg("--exit-on-error")
            .arg("--no-password")
            .arg("--dbname")
            .arg(tools::conninfo_dbname(database))
            .arg("--use-list")
            .arg(&list);
        for section in &phase.sections {
            cmd.arg(format!("--section={section}"));
        }
        if phase.jobs > 1 {
            cmd.arg(format!("--jobs={}", phase.jobs));
        }
        if opts.no_owner {
            cmd.arg("--no-owner");
        }
        cmd.arg(dump_path);
        let password = opts.target.password();
        let shown = opts.pg_restore.display().to_string();
        match tools::run(cmd, "pg_restore", &shown).await {
            Ok(out) if out.status.success() => {
                tools::log_stderr("pg_restore", &out, password);
                let took = started.elapsed();
                progress(&format!(
                    "{} restored ({:.2}s)",
                    phase.name,
                    took.as_secs_f64()
                ));
                done.push((phase.name, took));
            }
            Ok(out) => {
                let cause = tools::failure(&out, password).into();
                return Ok(fail(phase.name, cause, done));
            }
            Err(e) => return Ok(fail(phase.name, e.into(), done)),
        }
    }
    Ok(Phases { done, failed: None })
}

/// Count every manifest table on the restored database, on a new session: it sees
/// the database as users will. Also returns `timescaledb.restoring` as that session
/// sees it.
pub(super) async fn check_counts(
    opts: &RestoreOptions,
    manifest: &Manifest,
    interrupt: &Interrupt,
) -> Result<(Vec<TableCheck>, String)> {
    let client = connect(&opts.target, Role::Target, APP_RESTORE)
        .await
        .map_err(|e| WholeDbError::Connect(e.to_string()))?;
    // Counts see every row, compressed ones included, or fail (as at dump time).
    client
        .batch_execute(crate::pg::session::SETUP)
        .await
        .map_err(WholeDbError::query("setting up the session"))?;
    let restoring: String = client
        .query_one(include_str!("sql/restoring.sql"), &[])
        .await
        .map_err(WholeDbError::query("reading timescaledb.restoring"))?
        .get("restoring");
    let present = manifest::list_tables(&client).await?;
    let mut tables = Vec::with_capacity(manifest.tables.len());
    for t in &manifest.tables {
        // Ctrl-C no longer ends the process by itself while the watcher runs.
        if interrupt.is_set() {
            return Err(WholeDbError::InterruptedVerifying {
                target: opts.target.to_string(),
            });
        }
        let table = t.qualified();
        let restored = match present.iter().find(|(name, _)| *name == table) {
            Some((_, chunks)) => Some((manifest::count_rows(&client, &table).await?, *chunks)),
            None => None,
        };
        tables.push(TableCheck {
            table,
            dump_rows: t.rows,
            dump_chunks: t.chunks,
            restored,
        });
    }
    Ok((tables, restoring))
}

/// A private directory for the TOC list files, removed when dropped. It lives in
/// the system's temporary directory: the dump directory may be read-only.
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    fn new() -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path =
            std::env::temp_dir().join(format!("hypermove-restore-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path).map_err(WholeDbError::io("create", &path))?;
        Ok(ScratchDir { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
