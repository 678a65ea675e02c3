//! The one error type of the crate.

/// What went wrong, worded for the person who runs the gateway.
///
/// `Config` errors are the user's to fix (bad flag, missing binary, port in use, unresolvable
/// template value): the binary prints them on one line and exits with code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration: template, flags, environment, missing tools or binaries.
    #[error("{0}")]
    Config(String),
    /// DynamoDB (Local) could not be installed, started or used.
    #[error("{0}")]
    DynamoDb(String),
    /// Anything else that failed at run time (I/O, a server that stopped).
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    /// A configuration error with the given message.
    pub fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
