//! Why a whole-database dump or restore stopped.
//!
//! The CLI prints an error's `Display` as its one-line message and
//! [`WholeDbError::exit_code`] as its exit status; the underlying driver, I/O and
//! tool errors stay reachable through `source()`.

use std::path::PathBuf;

use crate::catalog::CatalogError;
use crate::pg::describe_error;
use crate::pg::tools::{ToolError, ToolFailure};

use super::MANIFEST;
use super::manifest::{DumpMismatch, ManifestProblem};

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
        #[source]
        reason: ManifestProblem,
    },
    /// The dump file differs from what its manifest recorded.
    #[error(
        "the dump file {file} does not match its manifest ({what}): it is damaged or was changed; nothing was written"
    )]
    Damaged {
        /// The dump file.
        file: String,
        /// Which check failed, with both values.
        #[source]
        what: DumpMismatch,
    },
    /// pg_dump or pg_restore cannot be run.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// pg_dump or pg_restore cannot be run to ask its version.
    #[error("{source}; install PostgreSQL's client tools or pass {flag} PATH")]
    ToolMissing {
        /// The flag that chooses another one.
        flag: &'static str,
        /// Why it could not be run.
        #[source]
        source: ToolError,
    },
    /// The program named as pg_dump or pg_restore is not what it claims to be.
    #[error("{source}; pass {flag} PATH to {tool}")]
    NotTheTool {
        /// `pg_dump` or `pg_restore`.
        tool: &'static str,
        /// The flag that chooses another one.
        flag: &'static str,
        /// What it printed instead.
        #[source]
        source: ToolError,
    },
    /// `pg_restore --list` cannot read the dump.
    #[error("pg_restore cannot read {file}: {source}")]
    Unreadable {
        /// The dump file.
        file: String,
        /// How pg_restore failed.
        #[source]
        source: ToolFailure,
    },
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
    /// The target server does not preload TimescaleDB, which the dump needs.
    #[error(
        "the target server {server} does not load timescaledb (shared_preload_libraries), so CREATE EXTENSION timescaledb would fail; nothing was written"
    )]
    NotPreloaded {
        /// The server (no password).
        server: String,
    },
    /// The restoring role may not create the database.
    #[error(
        "role {role} may not create databases on {server} (it needs CREATEDB); nothing was written"
    )]
    NoCreateDb {
        /// The role.
        role: String,
        /// The server (no password).
        server: String,
    },
    /// A connection failed (the message is `pg::connect`'s own, password-free).
    #[error("{0}")]
    Connect(String),
    /// Reading the server's facts failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A query failed.
    #[error("{what}: {}", describe_error(.source))]
    Query {
        /// What was being done.
        what: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// `CREATE DATABASE` failed; nothing was created.
    #[error("CREATE DATABASE failed: {}; nothing was written", describe_error(.0))]
    CreateDatabase(#[source] tokio_postgres::Error),
    /// Installing the extension or `timescaledb_pre_restore()` failed, and the new
    /// database was dropped again.
    #[error(
        "preparing the new database failed: {}; it was dropped again, nothing was written",
        describe_error(.0)
    )]
    PrepareFailed(#[source] tokio_postgres::Error),
    /// Ctrl-C while the restored tables were being counted.
    #[error(
        "interrupted while verifying: the restore of {target} completed, but its row counts were not all compared with the manifest"
    )]
    InterruptedVerifying {
        /// The restored database (no password).
        target: String,
    },
    /// A file or directory could not be created, read, written or synced.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// `create`, `read`, `write`, `rename` or `sync`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The thread hashing a file failed.
    #[error("hashing {}: {source}", path.display())]
    Hashing {
        /// The file.
        path: PathBuf,
        /// The thread's failure.
        #[source]
        source: tokio::task::JoinError,
    },
    /// pg_dump failed; the directory holds no complete dump.
    #[error(
        "pg_dump failed: {0}; no manifest was written, so the directory holds no complete dump"
    )]
    DumpFailed(#[source] ToolFailure),
    /// The restore failed after the database was created.
    #[error(
        "{step} failed: {cause}{post}; database {database} on {server} is incomplete: drop it before restoring again"
    , post = post_restore.as_ref().map(|p| format!("; timescaledb_post_restore() failed too: {p}")).unwrap_or_default())]
    RestoreFailed {
        /// The step that failed.
        step: String,
        /// Its error.
        #[source]
        cause: Box<StepError>,
        /// The error of `timescaledb_post_restore()`, when that failed too.
        post_restore: Option<Box<StepError>>,
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
            WholeDbError::Connect(_)
            | WholeDbError::Catalog(_)
            | WholeDbError::Query { .. }
            | WholeDbError::CreateDatabase(_)
            | WholeDbError::PrepareFailed(_)
            | WholeDbError::InterruptedVerifying { .. }
            | WholeDbError::Io { .. }
            | WholeDbError::Hashing { .. }
            | WholeDbError::DumpFailed(_)
            | WholeDbError::RestoreFailed { .. } => 1,
            WholeDbError::DumpExists { .. }
            | WholeDbError::NotADump { .. }
            | WholeDbError::Damaged { .. }
            | WholeDbError::Tool(_)
            | WholeDbError::ToolMissing { .. }
            | WholeDbError::NotTheTool { .. }
            | WholeDbError::Unreadable { .. }
            | WholeDbError::ToolTooOld { .. }
            | WholeDbError::VersionMismatch { .. }
            | WholeDbError::TargetExists { .. }
            | WholeDbError::NotPreloaded { .. }
            | WholeDbError::NoCreateDb { .. } => 2,
        }
    }

    /// A query failure, as `what: the server's message`.
    pub(super) fn query(what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Self {
        let what = what.into();
        move |source| WholeDbError::Query { what, source }
    }

    /// A file operation's failure, as `cannot ACTION PATH: the error`.
    pub(super) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| WholeDbError::Io {
            action,
            path,
            source,
        }
    }
}

/// Why one step of a restore's writing part failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A connection failed (the message is `pg::connect`'s own, password-free).
    #[error("{0}")]
    Connect(String),
    /// A statement failed.
    #[error("{}", describe_error(.0))]
    Query(#[source] tokio_postgres::Error),
    /// Preparing the new database failed, and so did dropping it again.
    #[error(
        "{} (and dropping it again failed: {})",
        describe_error(.prepare),
        describe_error(.drop)
    )]
    NotDropped {
        /// Why preparing failed.
        #[source]
        prepare: tokio_postgres::Error,
        /// Why dropping failed.
        drop: tokio_postgres::Error,
    },
    /// A phase's entry list could not be written.
    #[error("cannot write {}: {source}", path.display())]
    WriteList {
        /// The list file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// pg_restore could not be run.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// pg_restore ran and failed.
    #[error(transparent)]
    Failed(#[from] ToolFailure),
    /// Ctrl-C came before the step started.
    #[error("interrupted")]
    Interrupted,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawn_error() -> ToolError {
        ToolError::Spawn {
            tool: "pg_restore",
            program: "pg_restore".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not found"),
        }
    }

    #[test]
    fn messages_read_as_the_cli_prints_them() {
        let missing = WholeDbError::ToolMissing {
            flag: "--pg-restore",
            source: spawn_error(),
        };
        assert_eq!(
            missing.to_string(),
            "cannot run pg_restore (`pg_restore`): not found; install PostgreSQL's client tools or pass --pg-restore PATH"
        );
        assert_eq!(missing.exit_code(), 2);
        let failed = WholeDbError::RestoreFailed {
            step: "pre-data".into(),
            cause: Box::new(StepError::Tool(spawn_error())),
            post_restore: Some(Box::new(StepError::Connect("cannot connect".into()))),
            database: "db".into(),
            server: "u@h:5432".into(),
        };
        assert_eq!(
            failed.to_string(),
            "pre-data failed: cannot run pg_restore (`pg_restore`): not found; timescaledb_post_restore() failed too: cannot connect; database db on u@h:5432 is incomplete: drop it before restoring again"
        );
        assert_eq!(failed.exit_code(), 1);
        let interrupted = WholeDbError::RestoreFailed {
            step: "TimescaleDB catalog data (serial)".into(),
            cause: Box::new(StepError::Interrupted),
            post_restore: None,
            database: "db".into(),
            server: "u@h:5432".into(),
        };
        assert_eq!(
            interrupted.to_string(),
            "TimescaleDB catalog data (serial) failed: interrupted; database db on u@h:5432 is incomplete: drop it before restoring again"
        );
        let io = WholeDbError::io("rename", "d/database.dump.partial")(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "denied",
        ));
        assert_eq!(
            io.to_string(),
            "cannot rename d/database.dump.partial: denied"
        );
        assert!(std::error::Error::source(&io).is_some());
    }
}
