//! The PostgreSQL foundation every layer stands on: identifier quoting, connections,
//! session setup and snapshots, and running the client tools (pg_dump, pg_restore).
//!
//! This module knows nothing about specs, plans or TimescaleDB. It is the only
//! place that turns names into SQL text, so quoting is done exactly once.

mod conn;
mod conninfo;
mod quote;
pub mod session;
mod tls;
pub mod tools;

pub use conn::{ConnError, Role, connect, describe_error};
pub use conninfo::{ConnInfo, ConnInfoError, Defaults, SslMode};
pub use quote::{QualifiedName, display_ident, quote_ident, quote_literal};
pub use session::SessionError;
pub use tls::TlsError;
/// The TLS settings of every connection, for the live follower's replication connection.
pub use tls::client_config;
