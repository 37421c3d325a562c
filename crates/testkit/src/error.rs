//! The one error type of this crate.

use std::process::ExitStatus;
use std::time::Duration;

/// Why a throwaway PostgreSQL server or a test database could not be provided.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// Neither `PATH` nor `/usr/lib/postgresql/*/bin` holds `initdb` and `pg_ctl`.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under \
         /usr/lib/postgresql/*/bin: install them (Debian/Ubuntu: apt-get install postgresql) \
         or set TEST_DATABASE_URL"
    )]
    BinariesNotFound,
    /// Neither `$ANVIL`, `PATH` nor the npm install under `/opt/escrowgrid-tools` holds `anvil`.
    #[error(
        "anvil not found in $ANVIL, on PATH or under /opt/escrowgrid-tools: install it \
         (npm install --prefix /opt/escrowgrid-tools @foundry-rs/anvil@1.7.1, as .ci/run does)"
    )]
    AnvilNotFound,
    /// A JSON-RPC request to a test node failed, or the contract could not be deployed.
    #[error("test chain: {0}")]
    Chain(String),
    /// Neither `PATH` nor `/usr/sbin` holds `pgbouncer`.
    #[error(
        "pgbouncer not found on PATH or in /usr/sbin: install it (Debian/Ubuntu: apt-get install pgbouncer)"
    )]
    PgBouncerNotFound,
    /// A file system or process operation failed.
    #[error("could not {action}: {source}")]
    Io {
        /// What was being done, e.g. `create directory /tmp/x`.
        action: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A helper program (`initdb`, `pg_ctl`, `chown`, `kill`) exited unsuccessfully.
    #[error("command `{command}` failed ({status}):\n{output}")]
    CommandFailed {
        /// The command line, for the reader.
        command: String,
        /// How it exited.
        status: ExitStatus,
        /// Its standard output and standard error.
        output: String,
    },
    /// `pg_ctl start` reported a failure.
    #[error("server on port {port} failed to start; server log:\n{log}")]
    StartFailed {
        /// The port the server was asked to listen on.
        port: u16,
        /// The server log written during this start attempt.
        log: String,
    },
    /// The server did not accept a connection before the deadline.
    #[error(
        "server on port {port} did not accept connections within {timeout:?}; server log:\n{log}"
    )]
    NotReady {
        /// The port the server listens on.
        port: u16,
        /// How long we waited.
        timeout: Duration,
        /// The whole server log.
        log: String,
    },
    /// A process did not exit before the deadline.
    #[error("process group {pgid} still alive {timeout:?} after SIGKILL")]
    StillAlive {
        /// The process group that was killed.
        pgid: u32,
        /// How long we waited.
        timeout: Duration,
    },
    /// A statement on the server failed.
    #[error("postgres error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
}

impl TestkitError {
    /// Wraps an I/O error with what was being attempted.
    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let action = action.into();
        move |source| Self::Io { action, source }
    }
}
