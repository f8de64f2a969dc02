//! Opening connections, and turning driver errors into one readable line.

use std::fmt;

use tokio_postgres::{Client, NoTls};

use super::ConnInfo;
use super::tls::TlsError;

/// Why a connection could not be opened. The messages name the side and the
/// password-free `user@host:port/dbname`, never the connection string.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The TLS configuration for the connection's `sslmode` could not be built.
    #[error("cannot connect to the {role} ({info}): {source}")]
    Tls {
        /// The side.
        role: Role,
        /// The connection, as `ConnInfo` displays it.
        info: String,
        /// What went wrong.
        #[source]
        source: TlsError,
    },
    /// The server could not be reached, or refused the connection.
    #[error("cannot connect to the {role} ({info}): {}", describe_error(.source))]
    Connect {
        /// The side.
        role: Role,
        /// The connection, as `ConnInfo` displays it.
        info: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

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

/// Connect and spawn the connection task. `application_name` shows in
/// `pg_stat_activity`, so an operator can see what hypermove is doing.
pub async fn connect(
    info: &ConnInfo,
    role: Role,
    application_name: &str,
) -> Result<Client, ConnError> {
    let mut config = info.config.clone();
    config.application_name(application_name);
    let fail = |source: tokio_postgres::Error| ConnError::Connect {
        role,
        info: info.to_string(),
        source,
    };
    let tls =
        super::tls::client_config(info.sslmode, info.sslrootcert.as_deref()).map_err(|source| {
            ConnError::Tls {
                role,
                info: info.to_string(),
                source,
            }
        })?;
    let client = match tls {
        None => {
            let (client, connection) = config.connect(NoTls).await.map_err(fail)?;
            spawn(connection, role);
            client
        }
        Some(tls) => {
            let connector = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
            let (client, connection) = config.connect(connector).await.map_err(fail)?;
            spawn(connection, role);
            client
        }
    };
    Ok(client)
}

/// Drive a connection in the background; it ends when its client is dropped.
fn spawn<F>(connection: F, role: Role)
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("{role} connection closed: {e}");
        }
    });
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
