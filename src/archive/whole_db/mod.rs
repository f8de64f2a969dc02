//! Whole-database dump and restore around pg_dump/pg_restore, with the steps the
//! TimescaleDB docs leave to the user.
//!
//! The docs' procedure (`pg_dump -Fc`; then `CREATE EXTENSION`, `timescaledb_pre_restore()`,
//! `pg_restore`, `timescaledb_post_restore()`) loses every row in two cases that were
//! measured: a restore into another TimescaleDB version (the catalog tables differ), and
//! a parallel `pg_restore -j` (the `_timescaledb_catalog` tables have foreign keys
//! between them, so loading them in parallel violates them). So:
//!
//! - `dump` writes the dump and a manifest: versions, the dump's SHA-256 and the exact
//!   row count of every user table, counted in the snapshot pg_dump dumps.
//! - `restore` refuses, before it writes anything, a damaged dump, another TimescaleDB
//!   version, an existing database and client tools older than the servers; then it
//!   creates the database and exactly the dump's extension version, restores in phases
//!   (pre-data; the TimescaleDB catalog data serially; the rest with `-j N`), always
//!   runs `timescaledb_post_restore()`, and compares the row counts with the manifest.
//!
//! pg_dump and pg_restore get their connection through `PG*` environment variables
//! built from the parsed [`ConnInfo`] (see [`crate::pg::tools`]): a password on a
//! command line shows in `ps`.
//!
//! This file holds the two use cases as short orchestrations; the pieces are:
//! `manifest` (the manifest's types, the counts it records, reading, checking and
//! writing it), `toc` (pg_restore's table of contents and the phases it is split
//! into), `restore` (the target checks and every writing step of a restore, then the
//! count checks), `jobs` (each job's next start, which the dump does not carry,
//! recorded at dump time and set again before restore mode ends), `report` (what a
//! restore found and what both commands print) and `error` ([`WholeDbError`]). The
//! SQL lives in `sql/`.

mod error;
mod jobs;
mod manifest;
mod report;
mod restore;
mod toc;

use std::path::{Path, PathBuf};
use std::time::Instant;

use tokio_postgres::IsolationLevel;

pub use error::{StepError, WholeDbError};
pub use manifest::{
    DUMP_FILE, DumpFile, DumpMismatch, FORMAT_VERSION, JobStart, KIND, MANIFEST, Manifest,
    ManifestProblem, SourceFacts, TableCount, ToolVersion,
};
pub use report::{RestoreReport, TableCheck, render_dump, render_restore};

use crate::catalog;
use crate::interrupt::Interrupt;
use crate::pg::tools::{self, ToolError};
use crate::pg::{ConnInfo, Role, connect};

const APP_DUMP: &str = "hypermove dump-db";
const APP_RESTORE: &str = "hypermove restore-db";

type Result<T> = std::result::Result<T, WholeDbError>;

/// What `dump-db` needs.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// The source database.
    pub source: ConnInfo,
    /// The directory to write.
    pub dir: PathBuf,
    /// The pg_dump to run (a bare name is looked up on PATH).
    pub pg_dump: PathBuf,
}

/// What `restore-db` needs.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// A directory written by `dump-db`.
    pub dir: PathBuf,
    /// The database to create and restore into.
    pub target: ConnInfo,
    /// The pg_restore to run (a bare name is looked up on PATH).
    pub pg_restore: PathBuf,
    /// pg_restore jobs for the data and post-data phase (the catalog is always serial).
    pub jobs: u16,
    /// Pass `--no-owner`: every object belongs to the restoring user.
    pub no_owner: bool,
}

/// Dump a whole database: pg_dump's custom format, plus the manifest. Row counts are
/// taken in the transaction whose snapshot pg_dump dumps, so they are the dump's.
/// `progress` gets a line per finished stage.
pub async fn dump(opts: &DumpOptions, progress: &dyn Fn(&str)) -> Result<Manifest> {
    let dir = &opts.dir;
    if dir.join(MANIFEST).exists() {
        return Err(WholeDbError::DumpExists {
            dir: dir.display().to_string(),
        });
    }
    let pg_dump = tool_version(&opts.pg_dump, "pg_dump", "--pg-dump").await?;
    let mut client = connect(&opts.source, Role::Source, APP_DUMP)
        .await
        .map_err(|e| WholeDbError::Connect(e.to_string()))?;
    // The counts the restore is checked against must see every row, compressed ones
    // included, or fail; set before the snapshot, which must come first in its transaction.
    client
        .batch_execute(crate::pg::session::SETUP)
        .await
        .map_err(WholeDbError::query("setting up the session"))?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(WholeDbError::query("opening the snapshot"))?;
    let server = catalog::server_info(&tx).await?;
    let row = tx
        .query_one(include_str!("sql/snapshot.sql"), &[])
        .await
        .map_err(WholeDbError::query("exporting the snapshot"))?;
    let snapshot: String = row.get("snapshot");
    let encoding: String = row.get("encoding");
    require(
        &pg_dump,
        "pg_dump",
        tools::major_of(server.version_num),
        || {
            format!(
                "the source server, PostgreSQL {}",
                short_version(&server.version)
            )
        },
        "--pg-dump",
    )?;
    let dumped_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);

    let started = Instant::now();
    let tables = manifest::count_tables(&tx).await?;
    let rows: i64 = tables.iter().map(|t| t.rows).sum();
    let job_starts = match server.timescaledb {
        Some(_) => jobs::read(&tx).await?,
        None => Vec::new(),
    };
    progress(&format!(
        "counted {rows} rows in {} ({:.2}s)",
        count_of(tables.len(), "table"),
        started.elapsed().as_secs_f64()
    ));

    std::fs::create_dir_all(dir).map_err(WholeDbError::io("create", dir))?;
    // pg_dump writes under a temporary name; only a finished, hashed file gets the
    // real name, and only then the manifest: an interrupted dump never looks complete.
    let partial = dir.join(format!("{DUMP_FILE}.partial"));
    let final_path = dir.join(DUMP_FILE);
    let started = Instant::now();
    let mut cmd = tools::command(&opts.pg_dump, Some((&opts.source, APP_DUMP)));
    cmd.arg("--format=custom")
        .arg("--no-password")
        .arg(format!("--snapshot={snapshot}"))
        .arg("--file")
        .arg(&partial);
    // The database comes from PGDATABASE: a name given as an argument would be read
    // as a connection string if it held `=`.
    let out = tools::run(cmd, "pg_dump", &pg_dump.program).await?;
    // The snapshot had to stay exported until pg_dump had imported it.
    let _ = tx.rollback().await;
    if !out.status.success() {
        let _ = std::fs::remove_file(&partial);
        return Err(WholeDbError::DumpFailed(tools::failure(
            &out,
            opts.source.password(),
        )));
    }
    tools::log_stderr("pg_dump", &out, opts.source.password());
    let (bytes, sha256) = manifest::hash_file(&partial).await?;
    manifest::sync_file(&partial)?;
    std::fs::rename(&partial, &final_path).map_err(WholeDbError::io("rename", &partial))?;
    progress(&format!(
        "pg_dump {} wrote {} ({bytes} bytes, {:.2}s)",
        pg_dump.version,
        final_path.display(),
        started.elapsed().as_secs_f64()
    ));

    let manifest = Manifest {
        kind: KIND.to_string(),
        format_version: FORMAT_VERSION,
        hypermove_version: env!("CARGO_PKG_VERSION").to_string(),
        database: server.database.clone(),
        dumped_at,
        source: SourceFacts {
            server: format!("{}@{}", opts.source.user(), opts.source.endpoint()),
            postgresql: server.version.clone(),
            postgresql_version_num: server.version_num,
            timescaledb: server.timescaledb.clone(),
            timescaledb_schema: server.timescaledb_schema.clone(),
            encoding,
        },
        pg_dump,
        dump: DumpFile {
            file: DUMP_FILE.to_string(),
            format: "custom".to_string(),
            bytes,
            sha256,
        },
        tables,
        job_starts,
    };
    manifest::write(dir, &manifest)?;
    Ok(manifest)
}

/// Restore a `dump-db` directory into a new database. Everything that can be checked
/// is checked before the first write; `timescaledb_post_restore()` runs even when a
/// phase failed. The report says whether every count matches the manifest.
pub async fn restore(opts: &RestoreOptions, progress: &dyn Fn(&str)) -> Result<RestoreReport> {
    // --- Preflight: reads only. -------------------------------------------------
    let manifest = manifest::read(&opts.dir)?;
    let dump_path = opts.dir.join(&manifest.dump.file);
    manifest::check_dump_file(&dump_path, &manifest.dump).await?;
    let pg_restore = tool_version(&opts.pg_restore, "pg_restore", "--pg-restore").await?;
    require(
        &manifest.pg_dump,
        "pg_dump",
        tools::major_of(manifest.source.postgresql_version_num),
        || {
            format!(
                "the source server, PostgreSQL {}",
                short_version(&manifest.source.postgresql)
            )
        },
        "--pg-dump",
    )?;
    // An archive is readable by its own pg_restore and newer ones only.
    require(
        &pg_restore,
        "pg_restore",
        manifest.pg_dump.major,
        || {
            format!(
                "the pg_dump {} that wrote the dump",
                manifest.pg_dump.version
            )
        },
        "--pg-restore",
    )?;
    let target = restore::check_target(opts, &manifest, &pg_restore).await?;
    let listing = toc::listing(&opts.pg_restore, &pg_restore.program, &dump_path).await?;
    let ts_schema = manifest
        .source
        .timescaledb_schema
        .as_deref()
        .unwrap_or("public");
    let toc = toc::Toc::split(&listing, manifest.source.timescaledb.is_some(), ts_schema);

    // --- Writes. -------------------------------------------------------------------
    // Ctrl-C must not kill hypermove before `timescaledb_post_restore()`: the first one
    // is noted (pg_restore, in the same process group, stops on its own) and the
    // restore winds down; a second exits. The watcher stays through the verification,
    // which therefore checks it too; dropping it ends the watching.
    let interrupt = Interrupt::watch(
        "hypermove: interrupted: stopping after the current step, then running timescaledb_post_restore(); press Ctrl-C again to exit at once",
        None,
    );
    let phases = restore::write(
        opts, &manifest, &toc, &target, &dump_path, &interrupt, progress,
    )
    .await?;

    // --- Verification, on a new session: it sees the database as users will. -----
    let (tables, restoring) = restore::check_counts(opts, &manifest, &interrupt).await?;
    Ok(RestoreReport {
        target: opts.target.to_string(),
        manifest,
        phases,
        tables,
        restoring,
    })
}

/// Run `TOOL --version`; a tool that cannot be run or is not what it is named as is
/// refused with the flag that chooses another.
async fn tool_version(
    program: &Path,
    tool: &'static str,
    flag: &'static str,
) -> Result<ToolVersion> {
    tools::version(program, tool)
        .await
        .map_err(|source| match source {
            ToolError::NotTheTool { .. } => WholeDbError::NotTheTool { tool, flag, source },
            _ => WholeDbError::ToolMissing { flag, source },
        })
}

/// Refuse a client tool older than `needed`, the major of what it must work with
/// (`against` says what that is).
fn require(
    tool: &ToolVersion,
    name: &'static str,
    needed: u32,
    against: impl FnOnce() -> String,
    flag: &'static str,
) -> Result<()> {
    if tool.major < needed {
        return Err(WholeDbError::ToolTooOld {
            tool: name,
            version: tool.version.clone(),
            program: tool.program.clone(),
            against: against(),
            needed,
            flag,
        });
    }
    Ok(())
}

/// `17.12 (Debian 17.12-0+deb13u1)` → `17.12`.
fn short_version(version: &str) -> String {
    version
        .split_whitespace()
        .next()
        .unwrap_or(version)
        .to_string()
}

/// `1 table`, `2 tables`.
fn count_of(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Substitute `{name}` placeholders in one pass, after dropping the template's `--`
/// comment lines (a value holding a newline must not land in a comment and end it).
/// Every value is already quoted by `pg::quote_ident`/`quote_literal`, and a
/// substituted value is never scanned again.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let sql: Vec<&str> = template
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    let sql = sql.join("\n");
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            values
                .iter()
                .find(|(k, _)| *k == &after[..close])
                .map(|(_, v)| (close, *v))
        });
        match value {
            Some((close, v)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_substitutes_once_and_drops_comments() {
        let t = "-- {a} in a comment\nSELECT {a}, {b}, {c}";
        assert_eq!(
            fill(t, &[("a", "\"{b}\""), ("b", "'x\ny'")]),
            "SELECT \"{b}\", 'x\ny', {c}"
        );
    }
}
