//! [`TestPgBouncer`]: PgBouncer in transaction mode in front of a test server.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use crate::process::{self, Runner};
use crate::runtime::{block_on_own_thread, poll_until, wait_until_accepting};
use crate::server::keep_requested;
use crate::{TestDatabase, TestkitError};

/// Where Debian installs PgBouncer (`/usr/sbin` is not always on a test's `PATH`).
const DEBIAN_PGBOUNCER: &str = "/usr/sbin/pgbouncer";
/// How long PgBouncer may take to accept a connection through to the server.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many random ports to try before giving up on port clashes.
const START_ATTEMPTS: usize = 8;

/// `$1` parent pid, `$2` directory, `$3` 1 to keep the directory.
const WATCHDOG: &str = r#"
while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done
[ -f "$2/pgbouncer.pid" ] && kill "$(cat "$2/pgbouncer.pid")" 2>/dev/null
[ "$3" = 1 ] || rm -rf "$2"
"#;

/// One PgBouncer per test binary, in front of the server [`crate::database`] uses.
static SHARED_PGBOUNCER: OnceLock<Result<TestPgBouncer, String>> = OnceLock::new();

/// A running PgBouncer (`pool_mode = transaction`, any database, trust authentication for
/// clients) on `127.0.0.1` and a random port, in front of one PostgreSQL server. Dropping it
/// stops PgBouncer; a watchdog also does when the test process dies.
#[derive(Debug)]
pub struct TestPgBouncer {
    dir: PathBuf,
    port: u16,
    user: String,
    keep: bool,
}

impl TestPgBouncer {
    /// Starts PgBouncer in front of the server `server_url` names (its host, port, user and
    /// password are used; the database is whichever the client asks for), waiting until a
    /// connection through it reaches the server. Blocking. As root it runs as the `postgres`
    /// OS user (PgBouncer refuses root).
    ///
    /// # Errors
    ///
    /// [`TestkitError::PgBouncerNotFound`] without a `pgbouncer` binary, and other variants
    /// (with PgBouncer's log) when it does not start.
    pub fn start(server_url: &str) -> Result<Self, TestkitError> {
        let binary = find_binary().ok_or(TestkitError::PgBouncerNotFound)?;
        let server = tokio_postgres::Config::from_str(server_url)?;
        let host = match server.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        let server_port = server.get_ports().first().copied().unwrap_or(5432);
        let user = server.get_user().unwrap_or("postgres").to_owned();
        let password = server
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "testkit-pgbouncer-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)
            .map_err(TestkitError::io(format!("create {}", dir.display())))?;
        let runner = Runner::for_current_user();
        let mut this = Self {
            dir,
            port: 0,
            user,
            keep: keep_requested(),
        };
        this.spawn_watchdog()?;
        write_file(
            &this.dir.join("userlist.txt"),
            &format!("\"{}\" \"{}\"\n", this.user, password.replace('"', "\"\"")),
        )?;
        let mut attempts_left = START_ATTEMPTS;
        loop {
            this.port = crate::server::free_port()?;
            attempts_left -= 1;
            write_file(&this.config_file(), &this.config(&host, server_port))?;
            runner.hand_over(&this.dir)?;
            let mut command = runner.command(&binary);
            command.arg("-d").arg("-q").arg(this.config_file());
            let started = process::run(&mut command);
            let url = this.url("postgres");
            let ready = started.and_then(|_| {
                block_on_own_thread(wait_until_accepting(&url, READY_TIMEOUT))?.map_err(Into::into)
            });
            match ready {
                Ok(()) => break,
                Err(_) if attempts_left > 0 && this.log().contains("Address already in use") => {
                    this.stop();
                }
                Err(error) => {
                    return Err(TestkitError::StartFailed {
                        port: this.port,
                        log: format!("{}\n{error}", this.log()),
                    });
                }
            }
        }
        tracing::debug!(port = this.port, "test pgbouncer started");
        Ok(this)
    }

    /// The port PgBouncer listens on (on `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for database `dbname` through PgBouncer.
    pub fn url(&self, dbname: &str) -> String {
        format!("postgres://{}@127.0.0.1:{}/{dbname}", self.user, self.port)
    }

    /// The URL of `database` through PgBouncer.
    pub fn url_for(&self, database: &TestDatabase) -> String {
        self.url(database.name())
    }

    /// PgBouncer's log so far (empty if it cannot be read).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    fn config_file(&self) -> PathBuf {
        self.dir.join("pgbouncer.ini")
    }

    fn config(&self, host: &str, server_port: u16) -> String {
        let dir = self.dir.display();
        let mut text = String::new();
        let _ = writeln!(text, "[databases]\n* = host={host} port={server_port}\n");
        let _ = writeln!(text, "[pgbouncer]");
        for (name, value) in [
            ("listen_addr", "127.0.0.1".to_owned()),
            ("listen_port", self.port.to_string()),
            ("unix_socket_dir", String::new()),
            ("auth_type", "trust".to_owned()),
            ("auth_file", format!("{dir}/userlist.txt")),
            ("pool_mode", "transaction".to_owned()),
            ("max_client_conn", "2000".to_owned()),
            ("default_pool_size", "20".to_owned()),
            ("ignore_startup_parameters", "extra_float_digits".to_owned()),
            ("logfile", format!("{dir}/pgbouncer.log")),
            ("pidfile", format!("{dir}/pgbouncer.pid")),
            ("log_connections", "0".to_owned()),
            ("log_disconnections", "0".to_owned()),
        ] {
            let _ = writeln!(text, "{name} = {value}");
        }
        text
    }

    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("pgbouncer.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Sends SIGTERM and waits until the process is gone.
    fn stop(&self) {
        let Some(pid) = self.pid() else { return };
        let mut kill = Command::new("sh");
        kill.args(["-c", r#"kill -s TERM "$1""#, "kill"])
            .arg(pid.to_string());
        if process::run(&mut kill).is_ok() {
            poll_until(READY_TIMEOUT, || !process::is_alive(pid));
        }
        let _ = std::fs::remove_file(self.dir.join("pgbouncer.pid"));
    }

    fn spawn_watchdog(&self) -> Result<(), TestkitError> {
        let args = [self.dir.as_os_str(), crate::process::flag(self.keep)];
        crate::process::spawn_watchdog(
            WATCHDOG,
            "testkit-pgbouncer-watchdog",
            args,
            "pgbouncer watchdog",
        )
    }
}

impl Drop for TestPgBouncer {
    fn drop(&mut self) {
        self.stop();
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The PgBouncer shared by the tests of this binary, in front of the server
/// [`crate::database`] creates databases on (started on first use).
///
/// # Panics
///
/// When PgBouncer is not installed (the message says what to install) or does not start.
pub async fn pgbouncer() -> &'static TestPgBouncer {
    let server_url = crate::shared::server_url().await;
    let bouncer = tokio::task::spawn_blocking(move || {
        SHARED_PGBOUNCER
            .get_or_init(|| TestPgBouncer::start(&server_url).map_err(|error| error.to_string()))
    })
    .await
    .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
    match bouncer {
        Ok(bouncer) => bouncer,
        Err(message) => panic!("testkit: could not start pgbouncer: {message}"),
    }
}

fn find_binary() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("pgbouncer"))
        .chain([PathBuf::from(DEBIAN_PGBOUNCER)])
        .find(|path| path.is_file())
}

fn write_file(path: &Path, text: &str) -> Result<(), TestkitError> {
    std::fs::write(path, text).map_err(TestkitError::io(format!("write {}", path.display())))
}
