//! The error of replication connections.

use super::wire::{ServerMessage, WireError};

/// Why a replication connection failed. Every message names the password-free
/// `user@host:port/dbname` of the source.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The socket failed.
    #[error("replication connection to {endpoint}: {source}")]
    Io {
        /// The connection.
        endpoint: String,
        /// What the socket said.
        #[source]
        source: std::io::Error,
    },
    /// `connect_timeout` passed before the connection was ready.
    #[error("replication connection to {endpoint}: timed out while connecting")]
    Timeout {
        /// The connection.
        endpoint: String,
    },
    /// The server answered with an error.
    #[error("replication connection to {endpoint}: {message}")]
    Server {
        /// The connection.
        endpoint: String,
        /// The server's error (boxed: it is large, and errors travel by value).
        message: Box<ServerMessage>,
    },
    /// The `sslmode` demands TLS and it cannot be had.
    #[error("replication connection to {endpoint}: sslmode requires TLS, but {why}")]
    TlsRequired {
        /// The connection.
        endpoint: String,
        /// Why there is no TLS.
        why: &'static str,
    },
    /// The TLS handshake failed (certificate checks included).
    #[error("replication connection to {endpoint}: TLS: {source}")]
    Tls {
        /// The connection.
        endpoint: String,
        /// The handshake's error.
        #[source]
        source: std::io::Error,
    },
    /// The server asks for an authentication method this client lacks.
    #[error(
        "replication connection to {endpoint}: the server asks for authentication method {code}, which hypermove does not support (use scram-sha-256, md5, password or trust)"
    )]
    AuthMethod {
        /// The connection.
        endpoint: String,
        /// The AuthenticationRequest code.
        code: i32,
    },
    /// The server asks for a password and none is known.
    #[error(
        "replication connection to {endpoint}: the server asks for a password; give one in the connection string, PGPASSWORD or ~/.pgpass"
    )]
    NoPassword {
        /// The connection.
        endpoint: String,
    },
    /// The SCRAM exchange failed on our side.
    #[error("replication connection to {endpoint}: authentication: {source}")]
    Auth {
        /// The connection.
        endpoint: String,
        /// What SCRAM said.
        #[source]
        source: std::io::Error,
    },
    /// Bytes from the server that do not parse.
    #[error("replication connection to {endpoint}: {source}")]
    Wire {
        /// The connection.
        endpoint: String,
        /// What did not parse.
        #[source]
        source: WireError,
    },
    /// A message that does not belong where it came.
    #[error("replication connection to {endpoint}: unexpected message {tag:?} during {during}")]
    Unexpected {
        /// The connection.
        endpoint: String,
        /// The message tag.
        tag: char,
        /// What the client was doing.
        during: &'static str,
    },
    /// A command's answer lacks what it must hold.
    #[error("replication connection to {endpoint}: {what}")]
    Reply {
        /// The connection.
        endpoint: String,
        /// What was missing or wrong.
        what: String,
    },
    /// The server closed the connection.
    #[error("replication connection to {endpoint}: the server closed the connection")]
    Closed {
        /// The connection.
        endpoint: String,
    },
}

impl LiveError {
    /// The SQLSTATE, when the server sent the error.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            LiveError::Server { message, .. } => Some(&message.code),
            _ => None,
        }
    }
}
