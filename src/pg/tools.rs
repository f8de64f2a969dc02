//! Running PostgreSQL's client tools (pg_dump, pg_restore): their version, their
//! libpq environment, running them off the async threads, and reading what they
//! printed without passing a password on.
//!
//! A tool gets its connection only through `PG*` environment variables built from a
//! parsed [`ConnInfo`]: a password on a command line shows in `ps`, and the caller's
//! own `PG*` variables must not send the tool somewhere hypermove does not go.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde::{Deserialize, Serialize};

use super::{ConnInfo, SslMode};

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

/// Why a client tool could not be run, or is not the tool it was named as.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The program could not be started (not found, not executable …).
    #[error("cannot run {tool} (`{program}`): {source}")]
    Spawn {
        /// `pg_dump` or `pg_restore`.
        tool: &'static str,
        /// How it was called.
        program: String,
        /// Why it did not start.
        #[source]
        source: std::io::Error,
    },
    /// The blocking thread that waited for it failed.
    #[error("running {tool}: {source}")]
    Join {
        /// `pg_dump` or `pg_restore`.
        tool: &'static str,
        /// The thread's failure.
        #[source]
        source: tokio::task::JoinError,
    },
    /// `--version` does not name the tool, or the tool failed to print it.
    #[error("`{program} --version` does not print a {tool} version (it printed `{printed}`)")]
    NotTheTool {
        /// `pg_dump` or `pg_restore`.
        tool: &'static str,
        /// How it was called.
        program: String,
        /// The first line it printed.
        printed: String,
    },
}

/// A tool that ran and failed: the lines of its stderr that say why, password-free,
/// and how it ended. Displays on one line.
#[derive(Debug, Clone)]
pub struct ToolFailure {
    /// At most four error lines, or else the last three lines.
    pub lines: Vec<String>,
    /// The exit code; `None` when a signal killed it.
    pub code: Option<i32>,
}

impl std::fmt::Display for ToolFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match self.code {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
        if self.lines.is_empty() {
            f.write_str(&status)
        } else {
            write!(f, "{} ({status})", self.lines.join(" / "))
        }
    }
}

impl std::error::Error for ToolFailure {}

/// A command for a client tool. Its connection comes only from the `PG*` variables
/// built here from the parsed connection: the caller's own `PG*` variables (a
/// `PGSERVICE`, `PGSSLCERT`, `PGPASSFILE` …) are removed, so the tool reaches the
/// same server the same way hypermove does. The password goes in `PGPASSWORD`,
/// never in argv, which every user can read in `ps`.
pub fn command(program: &Path, conn: Option<(&ConnInfo, &str)>) -> Command {
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
pub fn conninfo_dbname(name: &str) -> String {
    format!(
        "dbname='{}'",
        name.replace('\\', "\\\\").replace('\'', "\\'")
    )
}

/// Run a command to completion off the async threads. `shown` is how the program
/// was named, for the message when it cannot start.
pub async fn run(mut cmd: Command, tool: &'static str, shown: &str) -> Result<Output, ToolError> {
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(|source| ToolError::Join { tool, source })?;
    out.map_err(|source| ToolError::Spawn {
        tool,
        program: shown.to_string(),
        source,
    })
}

/// Run `TOOL --version` and parse it; the output must name the tool.
pub async fn version(program: &Path, tool: &'static str) -> Result<ToolVersion, ToolError> {
    let shown = program.display().to_string();
    let mut cmd = command(program, None);
    cmd.arg("--version");
    let out = run(cmd, tool, &shown).await?;
    let text = String::from_utf8_lossy(&out.stdout);
    match parse_version(&text, tool) {
        Some((version, major)) if out.status.success() => Ok(ToolVersion {
            program: shown,
            version,
            major,
        }),
        _ => Err(ToolError::NotTheTool {
            tool,
            printed: text.lines().next().unwrap_or_default().trim().to_string(),
            program: shown,
        }),
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

/// A server's major version from its `server_version_num`: 170012 → 17.
pub fn major_of(version_num: i32) -> u32 {
    (version_num / 10000) as u32
}

/// Why a tool that ran failed: the lines of its stderr that say why, password-free.
pub fn failure(out: &Output, password: Option<&[u8]>) -> ToolFailure {
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
    ToolFailure {
        lines: chosen.into_iter().map(str::to_string).collect(),
        code: out.status.code(),
    }
}

/// A tool's warnings (pg_dump warns about the catalog's circular foreign keys on
/// every TimescaleDB database) go to the log, not to the user.
pub fn log_stderr(tool: &str, out: &Output, password: Option<&[u8]>) {
    let text = scrub(&String::from_utf8_lossy(&out.stderr), password);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        tracing::debug!("{tool}: {line}");
    }
}

/// Belt and braces: libpq does not print passwords, but nothing a child prints may
/// carry one onward.
pub fn scrub(text: &str, password: Option<&[u8]>) -> String {
    match password.map(String::from_utf8_lossy) {
        Some(pw) if !pw.is_empty() => text.replace(pw.as_ref(), "********"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_failure_reads_on_one_line() {
        let failure = ToolFailure {
            lines: vec!["pg_restore: error: x".into(), "DETAIL: y".into()],
            code: Some(1),
        };
        assert_eq!(
            failure.to_string(),
            "pg_restore: error: x / DETAIL: y (exit status 1)"
        );
        let killed = ToolFailure {
            lines: Vec::new(),
            code: None,
        };
        assert_eq!(killed.to_string(), "killed by a signal");
    }
}
