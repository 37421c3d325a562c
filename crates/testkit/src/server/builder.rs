//! [`TestPostgresBuilder`]: options for starting a [`TestPostgres`].

use std::path::PathBuf;

use super::{TestPostgres, keep_requested};
use crate::binaries::PgBinaries;
use crate::process::Runner;
use crate::{TestCertificates, TestkitError};

/// Options for [`TestPostgres`]; consume it with [`start`](Self::start).
#[derive(Debug, Default)]
#[must_use]
pub struct TestPostgresBuilder {
    bin_dir: Option<PathBuf>,
    settings: Vec<(String, String)>,
    tls: Option<ServerTls>,
    wal_archive: bool,
}

/// The certificate and key a server presents (PEM).
#[derive(Debug, Clone)]
pub(crate) struct ServerTls {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

impl TestPostgresBuilder {
    /// Uses `initdb` and `pg_ctl` from this directory instead of searching for them.
    pub fn with_bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }

    /// Adds a `postgresql.conf` setting, e.g. `("log_statement", "all")`; it overrides the
    /// defaults. The value is written as a quoted string.
    pub fn with_setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// Serves TLS (`ssl = on`) with the server certificate and key of `certificates`, besides
    /// plain connections (the `host` lines of `pg_hba.conf` accept both).
    pub fn with_tls(mut self, certificates: &TestCertificates) -> Self {
        self.tls = Some(ServerTls {
            cert_pem: certificates.server_cert_pem().to_owned(),
            key_pem: certificates.server_key_pem().to_owned(),
        });
        self
    }

    /// Archives every completed WAL segment (`archive_mode = on`, `cp` into
    /// [`TestPostgres::wal_archive_dir`]), for point-in-time recovery from a
    /// [`base_backup`](TestPostgres::base_backup).
    pub fn with_wal_archive(mut self) -> Self {
        self.wal_archive = true;
        self
    }

    /// Initialises and starts the server, waiting until it accepts connections. Blocking.
    ///
    /// # Errors
    ///
    /// As [`TestPostgres::start`].
    pub fn start(self) -> Result<TestPostgres, TestkitError> {
        let binaries = match self.bin_dir {
            Some(dir) => PgBinaries::in_dir(dir)?,
            None => PgBinaries::find()?,
        };
        let base_dir =
            std::env::temp_dir().join(format!("testkit-{}", uuid::Uuid::new_v4().simple()));
        // From here on, Drop cleans up whatever exists, also on a failed start.
        let mut server = TestPostgres {
            binaries,
            runner: Runner::for_current_user(),
            settings: self.settings,
            tls: self.tls,
            wal_archive: self.wal_archive,
            base_dir,
            port: 0,
            keep: keep_requested(),
        };
        server.create_cluster()?;
        server.spawn_watchdog()?;
        server.launch_on_free_port()?;
        tracing::debug!(port = server.port, dir = %server.base_dir.display(), "test server started");
        Ok(server)
    }
}
