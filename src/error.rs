//! The one error type of hypermove's use cases, and the exit code each kind means.
//!
//! Lower layers keep their own typed errors; a use case (`ops`) says what its failure
//! means for the person who ran it, and the CLI prints it as one line per problem.

/// Why a use case did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input, or a plan refused before anything was written (exit 2).
    #[error("{0}")]
    Refused(String),
    /// Something failed while running: a server, a connection, a file (exit 1).
    #[error("{0}")]
    Runtime(String),
    /// The move ran, but the target does not match the source (exit 3). The verdict
    /// itself has been shown and recorded; this says so in one line.
    #[error("{0}")]
    Mismatch(String),
    /// The run ended by request (Ctrl-C) with every finished step recorded (exit 130).
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    /// A refusal: the input or the plan is not acceptable, and nothing was written.
    pub fn refused(message: impl ToString) -> Self {
        Error::Refused(message.to_string())
    }

    /// A failure while running.
    pub fn runtime(message: impl ToString) -> Self {
        Error::Runtime(message.to_string())
    }

    /// The process exit code for this kind: the one place exit codes are chosen.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Refused(_) => 2,
            Error::Runtime(_) => 1,
            Error::Mismatch(_) => 3,
            Error::Interrupted(_) => 130,
        }
    }
}

impl From<crate::plan::PlanError> for Error {
    fn from(e: crate::plan::PlanError) -> Self {
        match e {
            // A catalog that cannot be read is the server's failure, not the spec's.
            crate::plan::PlanError::Catalog { .. } => Error::runtime(e),
            _ => Error::refused(e),
        }
    }
}

impl From<crate::spec::SpecErrors> for Error {
    fn from(e: crate::spec::SpecErrors) -> Self {
        Error::refused(e)
    }
}

/// The result of a use case.
pub type Result<T> = std::result::Result<T, Error>;
