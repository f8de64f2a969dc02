//! Why a step failed, and whether trying it again may help.

use crate::pg::describe_error;

/// SQLSTATEs that a retry can outlive: the server or the connection went away, the
/// server was busy, or a concurrent transaction was in the way.
const TRANSIENT: &[&str] = &[
    "57P01", // admin_shutdown, also pg_terminate_backend
    "57P02", // crash_shutdown
    "57P03", // cannot_connect_now (starting up)
    "53300", // too_many_connections
    "40001", // serialization_failure
    "40P01", // deadlock_detected
    "08000", "08001", "08003", "08004", "08006", // connection exceptions
];

/// A step's failure.
#[derive(Debug, Clone)]
pub struct StepError {
    /// One line, naming the side and the server's message.
    pub message: String,
    /// Whether a retry on a fresh connection may succeed.
    pub transient: bool,
}

impl StepError {
    /// From a driver error: transient when the server says so, or when the
    /// connection itself failed (reset, EOF, closed).
    pub fn pg(context: &str, e: &tokio_postgres::Error) -> Self {
        let transient = match e.as_db_error() {
            Some(db) => TRANSIENT.contains(&db.code().code()),
            None => true,
        };
        StepError {
            message: format!("{context}: {}", describe_error(e)),
            transient,
        }
    }

    /// A failure that a retry may outlive.
    pub fn transient(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            transient: true,
        }
    }

    /// A failure that a retry cannot mend (a damaged file, a wrong row count).
    pub fn permanent(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            transient: false,
        }
    }
}
