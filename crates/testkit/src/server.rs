//! [`TestPostgres`]: one throwaway PostgreSQL server with its own data directory.

mod backup;
mod builder;
mod launch;
mod watchdog;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use backup::TestBaseBackup;
pub use builder::TestPostgresBuilder;
pub(crate) use launch::free_port;

use crate::binaries::PgBinaries;
use crate::process::{self, Runner};
use crate::runtime::poll_until;
use crate::{TestDatabase, TestkitError};

/// How long `kill` waits for the server's processes to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `TESTKIT_KEEP=1` asks to keep data directories and databases for debugging.
pub(crate) fn keep_requested() -> bool {
    std::env::var_os("TESTKIT_KEEP").is_some_and(|value| value == "1")
}

/// An owned, running PostgreSQL server in a private temporary directory.
///
/// The server listens on `127.0.0.1` on a random free port and on a private Unix socket
/// directory, with durability off (`fsync`, `synchronous_commit` and `full_page_writes` off)
/// and trust authentication for the `postgres` role. Fault tests can [`stop`](Self::stop),
/// [`kill`](Self::kill) and [`restart`](Self::restart) it. Dropping the handle stops the
/// server and removes its directory (unless `TESTKIT_KEEP=1`). A watchdog process also stops
/// and removes it if the test process dies without dropping the handle.
#[derive(Debug)]
pub struct TestPostgres {
    binaries: PgBinaries,
    runner: Runner,
    settings: Vec<(String, String)>,
    tls: Option<builder::ServerTls>,
    wal_archive: bool,
    base_dir: PathBuf,
    port: u16,
    keep: bool,
}

impl TestPostgres {
    /// Initialises and starts a new server with default settings, waiting until it accepts
    /// connections. Blocking.
    ///
    /// # Errors
    ///
    /// [`TestkitError::BinariesNotFound`] when no PostgreSQL installation is found, and
    /// other variants (carrying the command output or server log) when `initdb` or the server
    /// fails.
    pub fn start() -> Result<Self, TestkitError> {
        Self::builder().start()
    }

    /// A builder for a server with a chosen binary directory or extra settings.
    pub fn builder() -> TestPostgresBuilder {
        TestPostgresBuilder::default()
    }

    /// The TCP port the server listens on (on `127.0.0.1`); it stays the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for database `dbname` as the `postgres` superuser.
    pub fn url(&self, dbname: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{dbname}", self.port)
    }

    /// Where WAL segments are archived, when started
    /// [`with_wal_archive`](TestPostgresBuilder::with_wal_archive).
    pub fn wal_archive_dir(&self) -> Option<PathBuf> {
        self.wal_archive.then(|| self.base_dir.join("archive"))
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.base_dir.join("data")
    }

    /// The server log so far (empty if it cannot be read).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// Creates a fresh database on this server, dropped when the handle drops.
    ///
    /// # Panics
    ///
    /// When the database cannot be created, e.g. because the server is stopped.
    pub async fn create_database(&self) -> TestDatabase {
        TestDatabase::create_on(&self.url("postgres"))
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "testkit: could not create a database on port {}: {error}",
                    self.port
                )
            })
    }

    /// Stops the server cleanly (`pg_ctl stop -m fast`) and waits until it is down; a no-op
    /// when it is not running.
    ///
    /// # Panics
    ///
    /// When `pg_ctl stop` fails.
    pub fn stop(&mut self) {
        if !self.is_running() {
            return;
        }
        self.pg_ctl_stop("fast").unwrap_or_else(|error| {
            panic!(
                "testkit: could not stop the server on port {}: {error}",
                self.port
            )
        });
    }

    /// Crashes the server: SIGKILL to the postmaster and all its children (the postmaster's
    /// process group and each child's, since backends lead their own), then waits until they
    /// are gone, so no connection to the server can still be answered. Committed data survives as far as it reached the OS
    /// (durability is off: a `checkpoint` makes sure). A no-op when it is not running.
    ///
    /// # Panics
    ///
    /// When the processes cannot be signalled or do not exit within 30 s.
    pub fn kill(&mut self) {
        self.kill_now().unwrap_or_else(|error| {
            panic!(
                "testkit: could not kill the server on port {}: {error}",
                self.port
            )
        });
    }

    /// Starts the server again on the same port and data directory (stopping it first if it
    /// runs) and waits until it accepts connections; after [`kill`](Self::kill) this includes
    /// crash recovery.
    ///
    /// # Panics
    ///
    /// When the server does not come up; the message carries the server log.
    pub fn restart(&mut self) {
        self.stop();
        self.launch().unwrap_or_else(|error| {
            panic!(
                "testkit: could not restart the server on port {}: {error}",
                self.port
            )
        });
    }

    /// Starts a streaming replica of this server: `pg_basebackup -R` into a new directory
    /// (so it follows this server as a hot standby), the same settings, its own random port.
    /// Databases created on this server appear on the replica once it has replayed them.
    /// Blocking.
    ///
    /// # Errors
    ///
    /// As [`TestPostgres::start`], and when `pg_basebackup` fails.
    pub fn start_replica(&self) -> Result<TestPostgres, TestkitError> {
        let mut replica = self.sibling(
            std::env::temp_dir().join(format!("testkit-{}", uuid::Uuid::new_v4().simple())),
        );
        replica.create_replica_of(self.port)?;
        replica.spawn_watchdog()?;
        replica.launch_on_free_port()?;
        tracing::debug!(
            port = replica.port,
            primary = self.port,
            "test replica started"
        );
        Ok(replica)
    }

    /// Promotes this standby to a primary (`pg_ctl promote`) and waits until it accepts
    /// writes.
    ///
    /// # Panics
    ///
    /// When `pg_ctl promote` fails, e.g. because this server is not a standby.
    pub fn promote(&self) {
        let mut command = self.runner.command(&self.binaries.pg_ctl());
        command
            .args(["promote", "-w", "-t", "30", "-s", "-D"])
            .arg(self.data_dir())
            .current_dir(&self.base_dir);
        process::run(&mut command).unwrap_or_else(|error| {
            panic!(
                "testkit: could not promote the server on port {}: {error}",
                self.port
            )
        });
    }

    /// Whether the postmaster process is alive.
    pub fn is_running(&self) -> bool {
        self.postmaster_pid().is_some_and(process::is_alive)
    }

    fn log_file(&self) -> PathBuf {
        self.base_dir.join("server.log")
    }

    fn socket_dir(&self) -> PathBuf {
        self.base_dir.join("sock")
    }

    fn postmaster_pid_file(&self) -> PathBuf {
        self.data_dir().join("postmaster.pid")
    }

    /// The first line of `postmaster.pid`, if the file exists.
    fn postmaster_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.postmaster_pid_file()).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), TestkitError> {
        let mut command = self.runner.command(&self.binaries.pg_ctl());
        command
            .args(["stop", "-w", "-t", "30", "-s", "-m", mode, "-D"])
            .arg(self.data_dir())
            .current_dir(&self.base_dir);
        process::run(&mut command).map(drop)
    }

    fn kill_now(&self) -> Result<(), TestkitError> {
        let Some(pid) = self.postmaster_pid().filter(|&pid| process::is_alive(pid)) else {
            return Ok(());
        };
        // pg_ctl starts the postmaster in its own session, so its pid is its process group.
        // But every child of the postmaster (backends, checkpointer, ...) calls `setsid` and
        // leads a process group of its own: killing the postmaster's group alone leaves the
        // backends alive, answering their clients, until they notice the postmaster died.
        // So freeze the postmaster (no more forks), list its children, then kill its group
        // first (a child not yet in its own group dies with it) and each child's group.
        process::stop(pid)?;
        if !poll_until(KILL_TIMEOUT, || process::is_stopped_or_dead(pid)) {
            return Err(TestkitError::StillAlive {
                pgid: pid,
                timeout: KILL_TIMEOUT,
            });
        }
        let children = process::live_children(pid);
        process::kill_group(pid)?;
        process::kill_groups_if_present(&children)?;
        let groups: Vec<u32> = std::iter::once(pid).chain(children).collect();
        for pgid in groups {
            if !poll_until(KILL_TIMEOUT, || {
                process::live_group_members(pgid).is_empty()
            }) {
                return Err(TestkitError::StillAlive {
                    pgid,
                    timeout: KILL_TIMEOUT,
                });
            }
        }
        // Nothing may reap the dead postmaster here (PID 1 in a container often does not), so
        // its pid can live on as a zombie, and a new postmaster would take the lock files
        // naming it for a live server. The processes are gone: remove them.
        let lock_files = [
            self.postmaster_pid_file(),
            self.socket_dir()
                .join(format!(".s.PGSQL.{}.lock", self.port)),
        ];
        for file in lock_files {
            remove_file_if_exists(&file)?;
        }
        tracing::debug!(port = self.port, pid, "killed test server");
        Ok(())
    }
}

fn remove_file_if_exists(path: &Path) -> Result<(), TestkitError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(TestkitError::Io {
            action: format!("remove {}", path.display()),
            source: error,
        }),
        _ => Ok(()),
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if self.is_running() {
            if let Err(error) = self.pg_ctl_stop("immediate") {
                tracing::warn!(port = self.port, %error, "could not stop test server, killing it");
                if let Err(error) = self.kill_now() {
                    tracing::warn!(port = self.port, %error, "could not kill test server");
                }
            }
        }
        if self.keep {
            eprintln!("testkit: TESTKIT_KEEP=1, kept {}", self.base_dir.display());
        } else if let Err(error) = std::fs::remove_dir_all(&self.base_dir) {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.base_dir.display(), %error, "could not remove test server directory");
            }
        }
    }
}
