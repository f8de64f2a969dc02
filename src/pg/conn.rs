//! Opening connections, and turning driver errors into one readable line.

use std::fmt;

use tokio_postgres::{Client, Config, NoTls};

/// Which side of a move a connection belongs to; used in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The database rows are read from.
    Source,
    /// The database rows are written to.
    Target,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Source => "source",
            Role::Target => "target",
        })
    }
}

/// A parsed connection string. It keeps the password inside and never shows it:
/// `Display` prints `user@host:port/dbname` only.
#[derive(Clone)]
pub struct ConnInfo {
    config: Config,
}

impl ConnInfo {
    /// Parse a `postgresql://` URI or a `key=value` DSN. The error never echoes the input,
    /// because the input may hold a password.
    pub fn parse(conninfo: &str) -> Result<Self, String> {
        let mut config: Config = conninfo
            .parse()
            .map_err(|e: tokio_postgres::Error| format!("invalid connection string: {e}"))?;
        if config.get_user().is_none() {
            // libpq's default: the operating-system user name.
            if let Ok(user) = std::env::var("PGUSER").or_else(|_| std::env::var("USER")) {
                config.user(user);
            }
        }
        if config.get_hosts().is_empty() {
            config.host("localhost");
        }
        Ok(Self { config })
    }

    /// The database name, defaulting to the user name as libpq does.
    pub fn dbname(&self) -> &str {
        self.config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("postgres")
    }

    /// Host and port pairs, used to tell whether two connections reach the same server.
    pub fn endpoint(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_string(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }
}

impl fmt::Display for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = self.config.get_user().unwrap_or("?");
        write!(f, "{user}@{}/{}", self.endpoint(), self.dbname())
    }
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnInfo({self})")
    }
}

/// Connect and spawn the connection task. `application_name` shows in
/// `pg_stat_activity`, so an operator can see what hypermove is doing.
pub async fn connect(
    info: &ConnInfo,
    role: Role,
    application_name: &str,
) -> Result<Client, String> {
    let mut config = info.config.clone();
    config.application_name(application_name);
    let (client, connection) = config.connect(NoTls).await.map_err(|e| {
        format!(
            "cannot connect to the {role} ({info}): {}",
            describe_error(&e)
        )
    })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("{role} connection closed: {e}");
        }
    });
    Ok(client)
}

/// One line for a driver error: the server's message with its SQLSTATE, detail
/// and hint when the server sent one, or the I/O cause otherwise.
pub fn describe_error(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut line = format!("{} ({})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            line.push_str(&format!("; {detail}"));
        }
        if let Some(hint) = db.hint() {
            line.push_str(&format!("; hint: {hint}"));
        }
        return line;
    }
    let mut line = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    line
}
