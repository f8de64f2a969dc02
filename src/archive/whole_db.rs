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
//! built from the parsed [`ConnInfo`]: a password on a command line shows in `ps`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, GenericClient, IsolationLevel};

use crate::catalog;
use crate::pg::{ConnInfo, QualifiedName, Role, SslMode, connect, describe_error};
use crate::pg::{display_ident, quote_ident, quote_literal};

/// The manifest's name inside a dump directory. It is written last, so a directory
/// holds a complete dump exactly when it holds this file.
pub const MANIFEST: &str = "manifest.json";
/// The dump file's name inside a dump directory.
pub const DUMP_FILE: &str = "database.dump";
/// The manifest's `kind`, telling it apart from other hypermove archives.
pub const KIND: &str = "whole-database";
/// The manifest format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const APP_DUMP: &str = "hypermove dump-db";
const APP_RESTORE: &str = "hypermove restore-db";
/// Catalog schemas whose table data is restored serially, before everything else:
/// the catalog tables have foreign keys between them, and `_timescaledb_config.bgw_job`
/// references the catalog's hypertables.
const SERIAL_DATA_SCHEMAS: &[&str] = &["_timescaledb_catalog", "_timescaledb_config"];

/// Why a whole-database dump or restore stopped. Every message is one line and
/// never holds a password.
#[derive(Debug, thiserror::Error)]
pub enum WholeDbError {
    /// The dump directory already holds a complete dump.
    #[error(
        "{dir} already holds a complete dump ({MANIFEST}); nothing was written: choose another directory or remove it"
    )]
    DumpExists {
        /// The directory.
        dir: String,
    },
    /// The directory does not hold a complete whole-database dump.
    #[error("{dir} holds no complete whole-database dump: {reason}; nothing was written")]
    NotADump {
        /// The directory.
        dir: String,
        /// What is missing or wrong.
        reason: String,
    },
    /// The dump file differs from what its manifest recorded.
    #[error(
        "the dump file {file} does not match its manifest ({what}): it is damaged or was changed; nothing was written"
    )]
    Damaged {
        /// The dump file.
        file: String,
        /// Which check failed, with both values.
        what: String,
    },
    /// pg_dump or pg_restore cannot be run, or is not what it claims to be.
    #[error("{0}")]
    Tool(String),
    /// A client tool older than the server it must talk to (or the archive it must read).
    #[error(
        "{tool} {version} ({program}) is older than {against}: it must be major {needed} or newer; nothing was written: pass {flag} PATH to a {tool} {needed} or newer"
    )]
    ToolTooOld {
        /// `pg_dump` or `pg_restore`.
        tool: &'static str,
        /// Its version.
        version: String,
        /// How it was called.
        program: String,
        /// What it is older than, e.g. `the source server, PostgreSQL 17.12`.
        against: String,
        /// The smallest major version that works.
        needed: u32,
        /// The flag that chooses another one.
        flag: &'static str,
    },
    /// The target server would install another TimescaleDB version than the dump holds.
    #[error(
        "the dump holds TimescaleDB {dump} (from PostgreSQL {dump_pg}) but the target server {server} (PostgreSQL {target_pg}) would install {target}; pg_restore cannot cross TimescaleDB versions (the catalog differs and every row would be lost); nothing was written: restore into a server that offers TimescaleDB {dump}, or move the tables with `hypermove apply`, which crosses versions"
    )]
    VersionMismatch {
        /// The dump's TimescaleDB version.
        dump: String,
        /// The source's PostgreSQL version.
        dump_pg: String,
        /// The target server (no password).
        server: String,
        /// The target's PostgreSQL version.
        target_pg: String,
        /// What the target would install, e.g. `TimescaleDB 2.31.0`.
        target: String,
    },
    /// The target database already exists.
    #[error(
        "database {database} already exists on {server}; restore-db creates the database it restores into and never writes into an existing one; nothing was written: drop it or name another database in --target"
    )]
    TargetExists {
        /// The database name.
        database: String,
        /// The server (no password).
        server: String,
    },
    /// The target server cannot take the restore (rights, settings).
    #[error("{0}; nothing was written")]
    TargetNotReady(String),
    /// A query or a connection failed.
    #[error("{0}")]
    Database(String),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
    /// pg_dump failed; the directory holds no complete dump.
    #[error(
        "pg_dump failed: {0}; no manifest was written, so the directory holds no complete dump"
    )]
    DumpFailed(String),
    /// The restore failed after the database was created.
    #[error(
        "{step} failed: {message}{post}; database {database} on {server} is incomplete: drop it before restoring again"
    , post = post_restore.as_deref().map(|p| format!("; timescaledb_post_restore() failed too: {p}")).unwrap_or_default())]
    RestoreFailed {
        /// The step that failed.
        step: String,
        /// Its error.
        message: String,
        /// The error of `timescaledb_post_restore()`, when that failed too.
        post_restore: Option<String>,
        /// The database.
        database: String,
        /// The server (no password).
        server: String,
    },
}

impl WholeDbError {
    /// The process exit code: 2 for a refusal (nothing was written, the input or
    /// the setup must change), 1 for a failure while running.
    pub fn exit_code(&self) -> u8 {
        match self {
            WholeDbError::Database(_)
            | WholeDbError::Io(_)
            | WholeDbError::DumpFailed(_)
            | WholeDbError::RestoreFailed { .. } => 1,
            _ => 2,
        }
    }
}

type Result<T> = std::result::Result<T, WholeDbError>;

/// `DIR/manifest.json`: what a dump holds, and what a restore must reproduce.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`KIND`].
    pub kind: String,
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The hypermove that wrote it.
    pub hypermove_version: String,
    /// The source database's name.
    pub database: String,
    /// When the dump's snapshot was taken (UTC, RFC 3339).
    pub dumped_at: String,
    /// The source server.
    pub source: SourceFacts,
    /// The pg_dump that wrote the dump.
    pub pg_dump: ToolVersion,
    /// The dump file.
    pub dump: DumpFile,
    /// Every user table, sorted, with its exact row count in the dump's snapshot.
    pub tables: Vec<TableCount>,
}

/// The source server, as the dump's snapshot saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceFacts {
    /// `user@host:port` (never a password).
    pub server: String,
    /// `server_version`, e.g. `17.12 (Debian 17.12-0+deb13u1)`.
    pub postgresql: String,
    /// `server_version_num`, e.g. 170012.
    pub postgresql_version_num: i32,
    /// The installed TimescaleDB version (`extversion`), if installed.
    pub timescaledb: Option<String>,
    /// The schema TimescaleDB was installed in, if installed.
    pub timescaledb_schema: Option<String>,
    /// The database's encoding.
    pub encoding: String,
}

/// A client tool and its version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolVersion {
    /// How it was called.
    pub program: String,
    /// Its version, e.g. `17.12`.
    pub version: String,
    /// Its major version, e.g. 17.
    pub major: u32,
}

/// The dump file's name, size and checksum.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DumpFile {
    /// The file name inside the directory.
    pub file: String,
    /// pg_dump's format (`custom`).
    pub format: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// One table's exact rows (a hypertable's through its parent) and its chunks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableCount {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// `count(*)` in the dump's snapshot.
    pub rows: i64,
    /// TimescaleDB chunks (0 for a plain table).
    pub chunks: i64,
}

impl TableCount {
    fn qualified(&self) -> QualifiedName {
        QualifiedName::new(&self.schema, &self.name)
    }
}

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

/// One table after a restore, next to the manifest's figures.
#[derive(Debug, Clone)]
pub struct TableCheck {
    /// The table.
    pub table: QualifiedName,
    /// Rows the manifest recorded.
    pub dump_rows: i64,
    /// Chunks the manifest recorded.
    pub dump_chunks: i64,
    /// Rows and chunks on the restored database; `None` when the table is missing.
    pub restored: Option<(i64, i64)>,
}

impl TableCheck {
    /// Whether the restored table has the dump's rows and chunks.
    pub fn ok(&self) -> bool {
        self.restored == Some((self.dump_rows, self.dump_chunks))
    }
}

/// What a restore did and found.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The dump's manifest.
    pub manifest: Manifest,
    /// The restored database (no password).
    pub target: String,
    /// Each phase and how long it took.
    pub phases: Vec<(String, Duration)>,
    /// Every manifest table, checked.
    pub tables: Vec<TableCheck>,
    /// `timescaledb.restoring` as a new session on the restored database sees it.
    pub restoring: String,
}

impl RestoreReport {
    /// Whether every count matches the manifest and restore mode is off.
    pub fn ok(&self) -> bool {
        self.restoring == "off" && self.tables.iter().all(TableCheck::ok)
    }
}

/// Dump a whole database: pg_dump's custom format, plus the manifest. Row counts are
/// taken in the transaction whose snapshot pg_dump dumps, so they are the dump's.
/// `progress` gets a line per finished stage.
pub async fn dump(opts: &DumpOptions, progress: &dyn Fn(&str)) -> Result<Manifest> {
    let dir = &opts.dir;
    let manifest_path = dir.join(MANIFEST);
    if manifest_path.exists() {
        return Err(WholeDbError::DumpExists {
            dir: dir.display().to_string(),
        });
    }
    let pg_dump = tool_version(&opts.pg_dump, "pg_dump", "--pg-dump").await?;
    let mut client = connect(&opts.source, Role::Source, APP_DUMP)
        .await
        .map_err(WholeDbError::Database)?;
    // The counts the restore is checked against must see every row, compressed ones
    // included, or fail; set before the snapshot, which must come first in its transaction.
    client
        .batch_execute(catalog::SESSION_SETUP)
        .await
        .map_err(db("setting up the session"))?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db("opening the snapshot"))?;
    let server = catalog::server_info(&tx)
        .await
        .map_err(|e| WholeDbError::Database(e.to_string()))?;
    let row = tx
        .query_one(include_str!("sql/whole_db_snapshot.sql"), &[])
        .await
        .map_err(db("exporting the snapshot"))?;
    let snapshot: String = row.get("snapshot");
    let encoding: String = row.get("encoding");
    let server_major = major_of(server.version_num);
    if pg_dump.major < server_major {
        return Err(WholeDbError::ToolTooOld {
            tool: "pg_dump",
            version: pg_dump.version.clone(),
            program: pg_dump.program.clone(),
            against: format!(
                "the source server, PostgreSQL {}",
                short_version(&server.version)
            ),
            needed: server_major,
            flag: "--pg-dump",
        });
    }
    let dumped_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);

    let started = Instant::now();
    let tables = count_tables(&tx).await?;
    let rows: i64 = tables.iter().map(|t| t.rows).sum();
    progress(&format!(
        "counted {rows} rows in {} ({:.2}s)",
        count_of(tables.len(), "table"),
        started.elapsed().as_secs_f64()
    ));

    std::fs::create_dir_all(dir)
        .map_err(|e| WholeDbError::Io(format!("cannot create {}: {e}", dir.display())))?;
    // pg_dump writes under a temporary name; only a finished, hashed file gets the
    // real name, and only then the manifest: an interrupted dump never looks complete.
    let partial = dir.join(format!("{DUMP_FILE}.partial"));
    let final_path = dir.join(DUMP_FILE);
    let started = Instant::now();
    let mut cmd = tool_command(&opts.pg_dump, Some((&opts.source, APP_DUMP)));
    cmd.arg("--format=custom")
        .arg("--no-password")
        .arg(format!("--snapshot={snapshot}"))
        .arg("--file")
        .arg(&partial);
    // The database comes from PGDATABASE: a name given as an argument would be read
    // as a connection string if it held `=`.
    let out = run(cmd, "pg_dump", &pg_dump.program).await?;
    // The snapshot had to stay exported until pg_dump had imported it.
    let _ = tx.rollback().await;
    if !out.status.success() {
        let _ = std::fs::remove_file(&partial);
        return Err(WholeDbError::DumpFailed(summarize(
            &out,
            opts.source.password(),
        )));
    }
    log_stderr("pg_dump", &out, opts.source.password());
    let (bytes, sha256) = hash_file(&partial).await?;
    sync_file(&partial)?;
    std::fs::rename(&partial, &final_path)
        .map_err(|e| WholeDbError::Io(format!("cannot rename {}: {e}", partial.display())))?;
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
    };
    let text = serde_json::to_string_pretty(&manifest).expect("the manifest serializes") + "\n";
    write_atomically(&manifest_path, text.as_bytes())?;
    Ok(manifest)
}

/// Restore a `dump-db` directory into a new database. Everything that can be checked
/// is checked before the first write; `timescaledb_post_restore()` runs even when a
/// phase failed. The report says whether every count matches the manifest.
pub async fn restore(opts: &RestoreOptions, progress: &dyn Fn(&str)) -> Result<RestoreReport> {
    // --- Preflight: reads only. -------------------------------------------------
    let manifest = read_manifest(&opts.dir)?;
    let dump_path = opts.dir.join(&manifest.dump.file);
    check_dump_file(&dump_path, &manifest.dump).await?;
    let pg_restore = tool_version(&opts.pg_restore, "pg_restore", "--pg-restore").await?;
    let source_major = major_of(manifest.source.postgresql_version_num);
    if manifest.pg_dump.major < source_major {
        return Err(WholeDbError::ToolTooOld {
            tool: "pg_dump",
            version: manifest.pg_dump.version.clone(),
            program: manifest.pg_dump.program.clone(),
            against: format!(
                "the source server, PostgreSQL {}",
                short_version(&manifest.source.postgresql)
            ),
            needed: source_major,
            flag: "--pg-dump",
        });
    }
    // An archive is readable by its own pg_restore and newer ones only.
    if pg_restore.major < manifest.pg_dump.major {
        return Err(WholeDbError::ToolTooOld {
            tool: "pg_restore",
            version: pg_restore.version.clone(),
            program: pg_restore.program.clone(),
            against: format!(
                "the pg_dump {} that wrote the dump",
                manifest.pg_dump.version
            ),
            needed: manifest.pg_dump.major,
            flag: "--pg-restore",
        });
    }
    let database = opts.target.dbname().to_string();
    let server = format!("{}@{}", opts.target.user(), opts.target.endpoint());
    let admin_info = opts.target.with_dbname("postgres");
    let admin = connect(&admin_info, Role::Target, APP_RESTORE)
        .await
        .map_err(WholeDbError::Database)?;
    let target = catalog::server_info(&admin)
        .await
        .map_err(|e| WholeDbError::Database(e.to_string()))?;
    let ts_version = manifest.source.timescaledb.clone();
    let row = admin
        .query_one(
            include_str!("sql/whole_db_target.sql"),
            &[&database, &ts_version],
        )
        .await
        .map_err(db("reading the target server"))?;
    let target_major = major_of(target.version_num);
    if pg_restore.major < target_major {
        return Err(WholeDbError::ToolTooOld {
            tool: "pg_restore",
            version: pg_restore.version.clone(),
            program: pg_restore.program.clone(),
            against: format!(
                "the target server, PostgreSQL {}",
                short_version(&target.version)
            ),
            needed: target_major,
            flag: "--pg-restore",
        });
    }
    if let Some(version) = &ts_version {
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
            return Err(WholeDbError::TargetNotReady(format!(
                "the target server {server} does not load timescaledb (shared_preload_libraries), so CREATE EXTENSION timescaledb would fail"
            )));
        }
    }
    if row.get::<_, bool>("database_exists") {
        return Err(WholeDbError::TargetExists { database, server });
    }
    if !row.get::<_, bool>("can_create_database") {
        return Err(WholeDbError::TargetNotReady(format!(
            "role {} may not create databases on {server} (it needs CREATEDB)",
            opts.target.user()
        )));
    }
    let listing = toc_listing(&opts.pg_restore, &pg_restore.program, &dump_path).await?;
    let ts_schema = manifest
        .source
        .timescaledb_schema
        .clone()
        .unwrap_or_else(|| "public".to_string());
    let toc = Toc::split(&listing, ts_version.is_some(), &ts_schema);

    // --- Writes. -------------------------------------------------------------------
    let interrupted = Arc::new(AtomicBool::new(false));
    let watcher = watch_ctrl_c(Arc::clone(&interrupted));
    let result = restore_into(
        opts,
        &manifest,
        &toc,
        &admin,
        &database,
        &server,
        &dump_path,
        &interrupted,
        progress,
    )
    .await;
    // The watcher stays through the verification: once a Ctrl-C handler is installed,
    // Ctrl-C no longer ends the process by itself, so the loop below checks the flag.
    let phases = result.inspect_err(|_| watcher.abort())?;

    // --- Verification, on a new session: it sees the database as users will. -----
    let client = connect(&opts.target, Role::Target, APP_RESTORE)
        .await
        .map_err(WholeDbError::Database)?;
    // Counts see every row, compressed ones included, or fail (as at dump time).
    client
        .batch_execute(catalog::SESSION_SETUP)
        .await
        .map_err(db("setting up the session"))?;
    let restoring: String = client
        .query_one(include_str!("sql/whole_db_restoring.sql"), &[])
        .await
        .map_err(db("reading timescaledb.restoring"))?
        .get("restoring");
    let present = list_tables(&client).await?;
    let mut tables = Vec::with_capacity(manifest.tables.len());
    for t in &manifest.tables {
        if interrupted.load(Ordering::Relaxed) {
            watcher.abort();
            return Err(WholeDbError::Database(format!(
                "interrupted while verifying: the restore of {} completed, but its row counts were not all compared with the manifest",
                opts.target
            )));
        }
        let table = t.qualified();
        let restored = match present.iter().find(|(name, _)| *name == table) {
            Some((_, chunks)) => Some((count_rows(&client, &table).await?, *chunks)),
            None => None,
        };
        tables.push(TableCheck {
            table,
            dump_rows: t.rows,
            dump_chunks: t.chunks,
            restored,
        });
    }
    watcher.abort();
    Ok(RestoreReport {
        target: opts.target.to_string(),
        manifest,
        phases,
        tables,
        restoring,
    })
}

/// The writing part of a restore: create, pre_restore, the phases, post_restore.
#[allow(clippy::too_many_arguments)]
async fn restore_into(
    opts: &RestoreOptions,
    manifest: &Manifest,
    toc: &Toc,
    admin: &Client,
    database: &str,
    server: &str,
    dump_path: &Path,
    interrupted: &AtomicBool,
    progress: &dyn Fn(&str),
) -> Result<Vec<(String, Duration)>> {
    let failed =
        |step: &str, message: String, post_restore: Option<String>| WholeDbError::RestoreFailed {
            step: step.to_string(),
            message,
            post_restore,
            database: database.to_string(),
            server: server.to_string(),
        };
    let create = fill(
        include_str!("sql/whole_db_create_database.sql"),
        &[
            ("database", &quote_ident(database)),
            ("encoding", &quote_literal(&manifest.source.encoding)),
        ],
    );
    admin.batch_execute(&create).await.map_err(|e| {
        WholeDbError::Database(format!(
            "CREATE DATABASE failed: {}; nothing was written",
            describe_error(&e)
        ))
    })?;
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
        .map_err(|e| failed("connecting to the new database", e, None))?;
    if let Some((version, schema)) = ts {
        let mut sql = String::new();
        if schema != "public" {
            sql += &fill(
                include_str!("sql/whole_db_create_schema.sql"),
                &[("schema", &quote_ident(schema))],
            );
            sql += ";\n";
        }
        sql += &fill(
            include_str!("sql/whole_db_create_extension.sql"),
            &[
                ("schema", &quote_ident(schema)),
                ("version", &quote_literal(version)),
            ],
        );
        sql += ";\n";
        sql += &fill(
            include_str!("sql/whole_db_pre_restore.sql"),
            &[("schema", &quote_ident(schema))],
        );
        if let Err(e) = client.batch_execute(&sql).await {
            // Nothing from the dump is in the new database yet, so it goes again and
            // the target is as it was.
            let message = describe_error(&e);
            drop(client);
            let drop_sql = fill(
                include_str!("sql/whole_db_drop_database.sql"),
                &[("database", &quote_ident(database))],
            );
            return Err(match admin.batch_execute(&drop_sql).await {
                Ok(()) => WholeDbError::Database(format!(
                    "preparing the new database failed: {message}; it was dropped again, nothing was written"
                )),
                Err(d) => failed(
                    "preparing the new database",
                    format!(
                        "{message} (and dropping it again failed: {})",
                        describe_error(&d)
                    ),
                    None,
                ),
            });
        }
        progress(&format!(
            "installed TimescaleDB {version} and ran timescaledb_pre_restore()"
        ));
    }
    drop(client);

    let work = ScratchDir::new()?;
    let mut phases = Vec::new();
    let mut error = None;
    for phase in toc.phases(opts.jobs) {
        if interrupted.load(Ordering::Relaxed) {
            error = Some((phase.name.clone(), "interrupted".to_string()));
            break;
        }
        if phase.entries.is_empty() {
            continue;
        }
        let list = work.path.join(format!("{}.list", phase.file));
        if let Err(e) = std::fs::write(&list, phase.entries.join("\n") + "\n") {
            error = Some((
                phase.name.clone(),
                format!("cannot write {}: {e}", list.display()),
            ));
            break;
        }
        let started = Instant::now();
        let mut cmd = tool_command(&opts.pg_restore, Some((&opts.target, APP_RESTORE)));
        cmd.arg("--exit-on-error")
            .arg("--no-password")
            .arg("--dbname")
            .arg(conninfo_dbname(database))
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
        match run(cmd, "pg_restore", &opts.pg_restore.display().to_string()).await {
            Ok(out) if out.status.success() => {
                log_stderr("pg_restore", &out, password);
                let took = started.elapsed();
                progress(&format!(
                    "{} restored ({:.2}s)",
                    phase.name,
                    took.as_secs_f64()
                ));
                phases.push((phase.name.clone(), took));
            }
            Ok(out) => {
                error = Some((phase.name.clone(), summarize(&out, password)));
                break;
            }
            Err(e) => {
                error = Some((phase.name.clone(), e.to_string()));
                break;
            }
        }
    }
    drop(work);

    // Always, even after a failed phase: otherwise the database stays in restore
    // mode, with TimescaleDB's planner hooks and background workers off.
    let mut post_error = None;
    if let Some((_, schema)) = ts {
        let post = fill(
            include_str!("sql/whole_db_post_restore.sql"),
            &[("schema", &quote_ident(schema))],
        );
        let done = match connect(&opts.target, Role::Target, APP_RESTORE).await {
            Ok(c) => c.batch_execute(&post).await.map_err(|e| describe_error(&e)),
            Err(e) => Err(e),
        };
        match done {
            Ok(()) => progress("ran timescaledb_post_restore()"),
            Err(e) => post_error = Some(e),
        }
    }
    if let Some((step, message)) = error {
        return Err(failed(&step, message, post_error));
    }
    if let Some(e) = post_error {
        return Err(failed("timescaledb_post_restore()", e, None));
    }
    Ok(phases)
}

/// The dump's table of contents, split into what restore-db runs when.
#[derive(Debug, Default, PartialEq)]
struct Toc {
    /// TimescaleDB catalog table data: restored serially, before any other data.
    catalog_data: Vec<String>,
    /// Everything else that is restored.
    rest: Vec<String>,
    /// Entries restore-db creates itself: the extension, its comment (and its schema).
    left_out: Vec<String>,
}

/// One pg_restore run.
struct Phase {
    name: String,
    file: &'static str,
    entries: Vec<String>,
    sections: Vec<&'static str>,
    jobs: u16,
}

impl Toc {
    /// Split `pg_restore -l` output. Entry lines read
    /// `ID; TABLEOID OID DESC NAMESPACE TAG OWNER`; only fixed prefixes are matched,
    /// so a user's name can never move an entry out of the restore.
    fn split(listing: &str, timescaledb: bool, ts_schema: &str) -> Toc {
        let mut toc = Toc::default();
        for line in listing.lines() {
            if line.trim().is_empty() || line.trim_start().starts_with(';') {
                continue;
            }
            let body = line
                .split_once("; ")
                .map(|(_, rest)| rest.splitn(3, ' ').nth(2).unwrap_or_default())
                .unwrap_or_default();
            let is = |prefix: &str| {
                body.strip_prefix(prefix)
                    .is_some_and(|after| after.is_empty() || after.starts_with(' '))
            };
            if timescaledb
                && (is("EXTENSION - timescaledb")
                    || is("COMMENT - EXTENSION timescaledb")
                    || (ts_schema != "public" && is(&format!("SCHEMA - {ts_schema}"))))
            {
                toc.left_out.push(line.to_string());
            } else if timescaledb
                && SERIAL_DATA_SCHEMAS
                    .iter()
                    .any(|s| body.starts_with(&format!("TABLE DATA {s} ")))
            {
                toc.catalog_data.push(line.to_string());
            } else {
                toc.rest.push(line.to_string());
            }
        }
        toc
    }

    /// The three runs: all definitions; the catalog's data, serially; the rest of the
    /// data and the post-data (indexes, constraints, triggers) with `jobs` jobs.
    fn phases(&self, jobs: u16) -> Vec<Phase> {
        let all: Vec<String> = self
            .catalog_data
            .iter()
            .chain(&self.rest)
            .cloned()
            .collect();
        vec![
            Phase {
                name: "pre-data".into(),
                file: "pre-data",
                entries: all,
                sections: vec!["pre-data"],
                jobs: 1,
            },
            Phase {
                name: "TimescaleDB catalog data (serial)".into(),
                file: "catalog",
                entries: self.catalog_data.clone(),
                sections: vec!["data"],
                jobs: 1,
            },
            Phase {
                name: format!("data and post-data (--jobs {jobs})"),
                file: "rest",
                entries: self.rest.clone(),
                sections: vec!["data", "post-data"],
                jobs,
            },
        ]
    }
}

/// `pg_restore -l`: the dump's table of contents.
async fn toc_listing(program: &Path, shown: &str, dump: &Path) -> Result<String> {
    let mut cmd = tool_command(program, None);
    cmd.arg("--list").arg(dump);
    let out = run(cmd, "pg_restore", shown).await?;
    if !out.status.success() {
        return Err(WholeDbError::Tool(format!(
            "pg_restore cannot read {}: {}",
            dump.display(),
            summarize(&out, None)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every table the manifest counts, with its exact rows, in the caller's transaction.
async fn count_tables(client: &impl GenericClient) -> Result<Vec<TableCount>> {
    let mut tables = Vec::new();
    for (name, chunks) in list_tables(client).await? {
        let rows = count_rows(client, &name).await?;
        tables.push(TableCount {
            schema: name.schema,
            name: name.name,
            rows,
            chunks,
        });
    }
    Ok(tables)
}

async fn list_tables(client: &impl GenericClient) -> Result<Vec<(QualifiedName, i64)>> {
    Ok(client
        .query(include_str!("sql/whole_db_tables.sql"), &[])
        .await
        .map_err(db("listing tables"))?
        .iter()
        .map(|r| {
            (
                QualifiedName::new(r.get::<_, String>("schema"), r.get::<_, String>("name")),
                r.get("chunks"),
            )
        })
        .collect())
}

async fn count_rows(client: &impl GenericClient, table: &QualifiedName) -> Result<i64> {
    let sql = fill(
        include_str!("sql/whole_db_count.sql"),
        &[("table", &table.sql())],
    );
    Ok(client
        .query_one(&sql, &[])
        .await
        .map_err(|e| {
            WholeDbError::Database(format!("counting rows of {table}: {}", describe_error(&e)))
        })?
        .get(0))
}

/// Read and check `DIR/manifest.json`.
fn read_manifest(dir: &Path) -> Result<Manifest> {
    let not = |reason: String| WholeDbError::NotADump {
        dir: dir.display().to_string(),
        reason,
    };
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not(format!(
                "no {MANIFEST} (dump-db writes it last, so the dump is missing or was interrupted)"
            )));
        }
        Err(e) => return Err(not(format!("cannot read {}: {e}", path.display()))),
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| not(format!("{MANIFEST} is not JSON: {e}")))?;
    if value.get("kind").and_then(|k| k.as_str()) != Some(KIND) {
        return Err(not(format!("{MANIFEST} is not a `{KIND}` manifest")));
    }
    let version = value.get("format_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(not(format!(
            "{MANIFEST} has format_version {}, this hypermove reads {FORMAT_VERSION}",
            version.map_or("(none)".to_string(), |v| v.to_string())
        )));
    }
    let manifest: Manifest =
        serde_json::from_value(value).map_err(|e| not(format!("{MANIFEST} is incomplete: {e}")))?;
    // The file name is joined to DIR: it must not lead out of it.
    let file = &manifest.dump.file;
    if file.is_empty() || file.contains(['/', '\\']) || file == "." || file == ".." {
        return Err(not(format!("{MANIFEST} names the dump file `{file}`")));
    }
    Ok(manifest)
}

/// The dump file must have the size and SHA-256 the manifest recorded.
async fn check_dump_file(path: &Path, recorded: &DumpFile) -> Result<()> {
    let damaged = |what: String| WholeDbError::Damaged {
        file: path.display().to_string(),
        what,
    };
    let meta = std::fs::metadata(path).map_err(|e| damaged(format!("cannot read it: {e}")))?;
    if meta.len() != recorded.bytes {
        return Err(damaged(format!(
            "{} bytes, the manifest recorded {}",
            meta.len(),
            recorded.bytes
        )));
    }
    let (_, sha256) = hash_file(path).await?;
    if sha256 != recorded.sha256 {
        return Err(damaged(format!(
            "SHA-256 {sha256}, the manifest recorded {}",
            recorded.sha256
        )));
    }
    Ok(())
}

/// Size and SHA-256 of a file, read off the async threads.
async fn hash_file(path: &Path) -> Result<(u64, String)> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> std::io::Result<(u64, String)> {
        let size = std::fs::metadata(&owned)?.len();
        Ok((size, crate::datafile::sha256_of_file(&owned)?))
    })
    .await
    .map_err(|e| WholeDbError::Io(format!("hashing {}: {e}", path.display())))?
    .map_err(|e| WholeDbError::Io(format!("cannot read {}: {e}", path.display())))
}

fn sync_file(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| WholeDbError::Io(format!("cannot sync {}: {e}", path.display())))
}

/// Write a file under a temporary name, flush it to disk, then rename it: a crash
/// leaves either the old state or the whole file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    super::manifest::write_atomically(path, bytes)
        .map_err(|e| WholeDbError::Io(format!("cannot write {}: {e}", path.display())))
}

/// Run `TOOL --version` and parse it; the output must name the tool.
async fn tool_version(program: &Path, tool: &'static str, flag: &str) -> Result<ToolVersion> {
    let shown = program.display().to_string();
    let mut cmd = tool_command(program, None);
    cmd.arg("--version");
    let out = run(cmd, tool, &shown).await.map_err(|e| {
        WholeDbError::Tool(format!(
            "{e}; install PostgreSQL's client tools or pass {flag} PATH"
        ))
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    match parse_version(&text, tool) {
        Some((version, major)) if out.status.success() => Ok(ToolVersion {
            program: shown,
            version,
            major,
        }),
        _ => Err(WholeDbError::Tool(format!(
            "`{shown} --version` does not print a {tool} version (it printed `{}`); pass {flag} PATH to {tool}",
            text.lines().next().unwrap_or_default().trim()
        ))),
    }
}

/// `pg_dump (PostgreSQL) 17.12 (Debian 17.12-0+deb13u1)` → (`17.12`, 17).
fn parse_version(text: &str, tool: &str) -> Option<(String, u32)> {
    let text = text.trim();
    if !text.starts_with(&format!("{tool} ")) {
        return None;
    }
    let token = text
        .split_whitespace()
        .find(|t| t.starts_with(|c: char| c.is_ascii_digit()))?;
    let major: String = token.chars().take_while(char::is_ascii_digit).collect();
    Some((token.to_string(), major.parse().ok()?))
}

/// 170012 → 17.
fn major_of(version_num: i32) -> u32 {
    (version_num / 10000) as u32
}

/// `17.12 (Debian 17.12-0+deb13u1)` → `17.12`.
fn short_version(version: &str) -> String {
    version
        .split_whitespace()
        .next()
        .unwrap_or(version)
        .to_string()
}

/// A command for a client tool. Its connection comes only from the `PG*` variables
/// built here from the parsed connection: the caller's own `PG*` variables (a
/// `PGSERVICE`, `PGSSLCERT`, `PGPASSFILE` …) are removed, so the tool reaches the
/// same server the same way hypermove does. The password goes in `PGPASSWORD`,
/// never in argv, which every user can read in `ps`.
fn tool_command(program: &Path, conn: Option<(&ConnInfo, &str)>) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    cmd.stdin(Stdio::null());
    if let Some((info, app)) = conn {
        cmd.envs(libpq_env(info, app));
    }
    cmd
}

/// The libpq environment for a connection.
fn libpq_env(info: &ConnInfo, app: &str) -> Vec<(&'static str, OsString)> {
    let mut env: Vec<(&'static str, OsString)> = vec![
        ("PGHOST", info.hosts().into()),
        ("PGUSER", info.user().into()),
        ("PGDATABASE", info.dbname().into()),
        ("PGSSLMODE", sslmode_name(info.sslmode).into()),
        ("PGAPPNAME", app.into()),
    ];
    let ports = info.ports();
    if !ports.is_empty() {
        env.push(("PGPORT", ports.into()));
    }
    if let Some(pw) = info.password() {
        #[cfg(unix)]
        let pw: OsString =
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(pw).to_os_string();
        #[cfg(not(unix))]
        let pw: OsString = String::from_utf8_lossy(pw).into_owned().into();
        env.push(("PGPASSWORD", pw));
    }
    if let Some(root) = &info.sslrootcert {
        env.push(("PGSSLROOTCERT", root.clone().into()));
    }
    if let Some(options) = info.options() {
        env.push(("PGOPTIONS", options.into()));
    }
    if let Some(timeout) = info.connect_timeout() {
        env.push(("PGCONNECT_TIMEOUT", timeout.as_secs().to_string().into()));
    }
    env
}

fn sslmode_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Allow => "allow",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => "verify-ca",
        SslMode::VerifyFull => "verify-full",
    }
}

/// `dbname='…'`: pg_restore reads a `--dbname` holding `=` as a connection string,
/// so a database name always goes in this quoted form (libpq's quoting: backslash
/// escapes `'` and `\`). Only the name: the rest comes from the environment.
fn conninfo_dbname(name: &str) -> String {
    format!(
        "dbname='{}'",
        name.replace('\\', "\\\\").replace('\'', "\\'")
    )
}

/// Run a command to completion off the async threads.
async fn run(mut cmd: Command, tool: &str, shown: &str) -> Result<Output> {
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(|e| WholeDbError::Tool(format!("running {tool}: {e}")))?;
    out.map_err(|e| WholeDbError::Tool(format!("cannot run {tool} (`{shown}`): {e}")))
}

/// The lines of a failed tool's stderr that say why, on one line, password-free.
fn summarize(out: &Output, password: Option<&[u8]>) -> String {
    let text = scrub(&String::from_utf8_lossy(&out.stderr), password);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("error") || l.contains("ERROR") || l.starts_with("DETAIL"))
        .take(4)
        .collect();
    let chosen = if errors.is_empty() {
        lines[lines.len().saturating_sub(3)..].to_vec()
    } else {
        errors
    };
    let status = match out.status.code() {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    };
    if chosen.is_empty() {
        status
    } else {
        format!("{} ({status})", chosen.join(" / "))
    }
}

/// A tool's warnings (pg_dump warns about the catalog's circular foreign keys on
/// every TimescaleDB database) go to the log, not to the user.
fn log_stderr(tool: &str, out: &Output, password: Option<&[u8]>) {
    let text = scrub(&String::from_utf8_lossy(&out.stderr), password);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        tracing::debug!("{tool}: {line}");
    }
}

/// Belt and braces: libpq does not print passwords, but nothing a child prints may
/// carry one onward.
fn scrub(text: &str, password: Option<&[u8]>) -> String {
    match password.map(String::from_utf8_lossy) {
        Some(pw) if !pw.is_empty() => text.replace(pw.as_ref(), "********"),
        _ => text.to_string(),
    }
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
        std::fs::create_dir(&path)
            .map_err(|e| WholeDbError::Io(format!("cannot create {}: {e}", path.display())))?;
        Ok(ScratchDir { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// During the writes, Ctrl-C must not kill hypermove before
/// `timescaledb_post_restore()`: the first one is noted (pg_restore, in the same
/// process group, stops on its own) and the restore winds down; a second exits.
fn watch_ctrl_c(flag: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        flag.store(true, Ordering::Relaxed);
        eprintln!(
            "hypermove: interrupted: stopping after the current step, then running timescaledb_post_restore(); press Ctrl-C again to exit at once"
        );
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    })
}

/// `1 table`, `2 tables`.
fn count_of(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn db(what: &'static str) -> impl Fn(tokio_postgres::Error) -> WholeDbError {
    move |e| WholeDbError::Database(format!("{what}: {}", describe_error(&e)))
}

/// What `dump-db` prints when it is done.
pub fn render_dump(manifest: &Manifest, dir: &Path) -> String {
    let rows: i64 = manifest.tables.iter().map(|t| t.rows).sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Dumped {} from {} (PostgreSQL {}, {}) with pg_dump {}",
        display_ident(&manifest.database),
        manifest.source.server,
        short_version(&manifest.source.postgresql),
        manifest
            .source
            .timescaledb
            .as_deref()
            .map_or("no TimescaleDB".to_string(), |v| format!("TimescaleDB {v}")),
        manifest.pg_dump.version
    );
    let _ = writeln!(
        out,
        "  {}: {} bytes, sha256 {}",
        dir.join(&manifest.dump.file).display(),
        manifest.dump.bytes,
        manifest.dump.sha256
    );
    let _ = writeln!(
        out,
        "  {}: {}, {rows} rows counted in the dump's snapshot",
        dir.join(MANIFEST).display(),
        count_of(manifest.tables.len(), "table")
    );
    let _ = writeln!(
        out,
        "To restore into a new database: hypermove restore-db {} --target URL",
        dir.display()
    );
    out
}

/// What `restore-db` prints when it is done: the phases, then a table of counts.
pub fn render_restore(report: &RestoreReport, dir: &Path) -> String {
    let m = &report.manifest;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Restored {} into {} (dumped {} from PostgreSQL {}, {})",
        dir.display(),
        report.target,
        m.dumped_at,
        short_version(&m.source.postgresql),
        m.source
            .timescaledb
            .as_deref()
            .map_or("no TimescaleDB".to_string(), |v| format!("TimescaleDB {v}")),
    );
    let phases: Vec<String> = report
        .phases
        .iter()
        .map(|(name, took)| format!("{name} {:.2}s", took.as_secs_f64()))
        .collect();
    let _ = writeln!(out, "  {}", phases.join("; "));
    let header = ["table", "chunks", "rows in dump", "rows restored", ""];
    let mut rows: Vec<[String; 5]> = Vec::new();
    for t in &report.tables {
        let (restored_rows, restored_chunks) = match t.restored {
            Some((r, c)) => (r.to_string(), c.to_string()),
            None => ("missing".to_string(), "-".to_string()),
        };
        let chunks = if t.dump_chunks == 0 && restored_chunks == "0" {
            String::new()
        } else {
            format!("{restored_chunks}/{}", t.dump_chunks)
        };
        rows.push([
            t.table.to_string(),
            chunks,
            t.dump_rows.to_string(),
            restored_rows,
            if t.ok() { "ok" } else { "MISMATCH" }.to_string(),
        ]);
    }
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 5]| {
        format!(
            "  {:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        )
        .trim_end()
        .to_string()
    };
    let _ = writeln!(out, "\n{}", line(header));
    for r in &rows {
        let _ = writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    let total: i64 = report.tables.iter().map(|t| t.dump_rows).sum();
    let bad = report.tables.iter().filter(|t| !t.ok()).count();
    if report.restoring != "off" {
        let _ = writeln!(
            out,
            "\ntimescaledb.restoring is {} on the restored database: run SELECT timescaledb_post_restore() there",
            report.restoring
        );
    }
    if bad == 0 {
        let _ = writeln!(
            out,
            "\nVerification: {}, {total} rows: every count matches the dump.",
            count_of(report.tables.len(), "table")
        );
    } else {
        let _ = writeln!(
            out,
            "\nVerification: {bad} of {} differ from the dump.",
            count_of(report.tables.len(), "table")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = ";\n; Selected TOC Entries:\n;\n\
2; 3079 817386 EXTENSION - timescaledb \n\
4066; 0 0 COMMENT - EXTENSION timescaledb \n\
282; 1259 818147 TABLE public conditions postgres\n\
3739; 0 817408 TABLE DATA _timescaledb_catalog hypertable postgres\n\
3753; 0 817557 TABLE DATA _timescaledb_config bgw_job postgres\n\
4057; 0 818158 TABLE DATA _timescaledb_internal _hyper_1_1_chunk postgres\n\
4070; 0 0 SEQUENCE SET _timescaledb_catalog chunk_id_seq postgres\n\
9; 0 0 COMMENT - EXTENSION timescaledbx \n\
3888; 2606 818150 FK CONSTRAINT public conditions conditions_device_id_fkey postgres\n";

    #[test]
    fn toc_leaves_out_the_extension_and_serialises_the_catalog() {
        let toc = Toc::split(LISTING, true, "public");
        assert_eq!(toc.left_out.len(), 2);
        assert!(toc.left_out[0].starts_with("2;"));
        assert!(toc.left_out[1].starts_with("4066;"));
        let ids = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|l| l.split(';').next().unwrap().to_string())
                .collect()
        };
        assert_eq!(ids(&toc.catalog_data), ["3739", "3753"]);
        assert_eq!(ids(&toc.rest), ["282", "4057", "4070", "9", "3888"]);
        let phases = toc.phases(4);
        assert_eq!(phases[0].entries.len(), 7);
        assert_eq!(phases[1].jobs, 1);
        assert_eq!(phases[2].jobs, 4);
        // Without TimescaleDB, nothing is special.
        let plain = Toc::split(LISTING, false, "public");
        assert!(plain.left_out.is_empty() && plain.catalog_data.is_empty());
    }

    #[test]
    fn toc_leaves_out_a_non_public_extension_schema() {
        let listing = "5; 2615 100 SCHEMA - ts postgres\n6; 2615 101 SCHEMA - tsx postgres\n";
        let toc = Toc::split(listing, true, "ts");
        assert_eq!(toc.left_out.len(), 1);
        assert_eq!(toc.rest.len(), 1);
    }

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version(
                "pg_dump (PostgreSQL) 17.12 (Debian 17.12-0+deb13u1)\n",
                "pg_dump"
            ),
            Some(("17.12".to_string(), 17))
        );
        assert_eq!(
            parse_version("pg_restore (PostgreSQL) 18beta2", "pg_restore"),
            Some(("18beta2".to_string(), 18))
        );
        assert_eq!(parse_version("echo 1.2", "pg_dump"), None);
        assert_eq!(major_of(170012), 17);
    }

    #[test]
    fn fill_substitutes_once_and_drops_comments() {
        let t = "-- {a} in a comment\nSELECT {a}, {b}, {c}";
        assert_eq!(
            fill(t, &[("a", "\"{b}\""), ("b", "'x\ny'")]),
            "SELECT \"{b}\", 'x\ny', {c}"
        );
    }

    #[test]
    fn dbname_is_quoted_for_libpq() {
        assert_eq!(conninfo_dbname("a'b\\c d"), "dbname='a\\'b\\\\c d'");
    }

    #[test]
    fn scrub_hides_the_password() {
        assert_eq!(
            scrub("FATAL pw=s3cret", Some(b"s3cret")),
            "FATAL pw=********"
        );
        assert_eq!(scrub("x", Some(b"")), "x");
    }
}
