//! The one error type of escrowgrid (to be written).

/// Everything that can go wrong in escrowgrid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A storage failure.
    #[error(transparent)]
    Storage(#[from] gridstore::Error),
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
