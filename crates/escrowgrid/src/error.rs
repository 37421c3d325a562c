//! The one error type of escrowgrid (to be written).

/// Everything that can go wrong in escrowgrid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A storage failure.
    #[error(transparent)]
    Storage(#[from] gridstore::Error),
    /// Invalid configuration: a bad environment variable, flag or configuration file.
    #[error("invalid configuration {key}: {message}")]
    Config {
        /// The variable, flag or file at fault.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// An I/O failure outside the store (binding the listener, serving connections).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
