//! Creating the cluster (`initdb`) and starting the server (`pg_ctl start`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use super::TestPostgres;
use crate::TestkitError;
use crate::process;
use crate::runtime::{block_on_own_thread, wait_until_accepting};

/// The server certificate and key files in the data directory (relative paths are resolved
/// against it).
const TLS_CERT_FILE: &str = "server.crt";
const TLS_KEY_FILE: &str = "server.key";
/// How long the server may take to accept its first connection.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many random ports to try before giving up on port clashes.
const START_ATTEMPTS: usize = 8;
/// Log lines meaning another process took our port between probing and binding it.
const PORT_CLASH_MARKERS: [&str; 2] = [
    "Address already in use",
    "could not create any TCP/IP sockets",
];

impl TestPostgres {
    /// Creates the directories and runs `initdb`, then writes our settings.
    pub(super) fn create_cluster(&self) -> Result<(), TestkitError> {
        let archive = self.wal_archive_dir();
        for dir in [&self.base_dir, &self.socket_dir()]
            .into_iter()
            .chain(archive.as_ref())
        {
            std::fs::create_dir_all(dir).map_err(TestkitError::io(format!(
                "create directory {}",
                dir.display()
            )))?;
        }
        self.runner.hand_over(&self.base_dir)?;
        let mut initdb = self.runner.command(&self.binaries.initdb());
        initdb
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .arg("-D")
            .arg(self.data_dir())
            .current_dir(&self.base_dir);
        process::run(&mut initdb)?;
        self.write_tls_files()?;
        self.append_settings()
    }

    /// Creates the directories and copies the server on `primary_port` with
    /// `pg_basebackup -R` (a standby following it), then writes our settings.
    pub(super) fn create_replica_of(&self, primary_port: u16) -> Result<(), TestkitError> {
        for dir in [&self.base_dir, &self.socket_dir()] {
            std::fs::create_dir_all(dir).map_err(TestkitError::io(format!(
                "create directory {}",
                dir.display()
            )))?;
        }
        self.runner.hand_over(&self.base_dir)?;
        let mut backup = self.runner.command(&self.binaries.pg_basebackup());
        backup
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-X",
                "stream",
                "-R",
                "--no-sync",
            ])
            .arg("-p")
            .arg(primary_port.to_string())
            .arg("-D")
            .arg(self.data_dir())
            .current_dir(&self.base_dir);
        process::run(&mut backup)?;
        self.append_settings()
    }

    /// Writes the TLS certificate and key into the data directory, readable by the server's
    /// OS user only (PostgreSQL refuses a key others can read).
    fn write_tls_files(&self) -> Result<(), TestkitError> {
        let Some(tls) = &self.tls else {
            return Ok(());
        };
        for (name, pem) in [(TLS_CERT_FILE, &tls.cert_pem), (TLS_KEY_FILE, &tls.key_pem)] {
            let path = self.data_dir().join(name);
            std::fs::write(&path, pem)
                .and_then(|()| {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                })
                .map_err(TestkitError::io(format!("write {}", path.display())))?;
            self.runner.hand_over(&path)?;
        }
        Ok(())
    }

    /// Appends our settings to `postgresql.conf` (the last occurrence of a setting wins).
    pub(super) fn append_settings(&self) -> Result<(), TestkitError> {
        let mut archive = Vec::new();
        if let Some(dir) = self.wal_archive_dir() {
            archive.push(("archive_mode", "on".to_owned()));
            archive.push(("archive_command", format!("cp %p {}/%f", dir.display())));
        }
        let socket_dir = self.socket_dir().display().to_string();
        let defaults = [
            ("listen_addresses", "127.0.0.1"),
            ("unix_socket_directories", socket_dir.as_str()),
            ("fsync", "off"),
            ("synchronous_commit", "off"),
            ("full_page_writes", "off"),
            ("max_connections", "200"),
            ("shared_buffers", "128MB"),
        ];
        let tls = [
            ("ssl", "on"),
            ("ssl_cert_file", TLS_CERT_FILE),
            ("ssl_key_file", TLS_KEY_FILE),
        ];
        let tls = tls.into_iter().filter(|_| self.tls.is_some());
        let archive = archive.iter().map(|(name, value)| (*name, value.as_str()));
        let chosen = self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let mut text = String::from("\n# testkit\n");
        for (name, value) in defaults.into_iter().chain(tls).chain(archive).chain(chosen) {
            let _ = writeln!(text, "{name} = '{}'", value.replace('\'', "''"));
        }
        let path = self.data_dir().join("postgresql.conf");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .map_err(TestkitError::io(format!("append to {}", path.display())))
    }

    /// Starts the server on a random free port, retrying on a new port when another process
    /// took it first.
    pub(super) fn launch_on_free_port(&mut self) -> Result<(), TestkitError> {
        let mut attempts_left = START_ATTEMPTS;
        loop {
            self.port = free_port()?;
            attempts_left -= 1;
            match self.launch() {
                Err(TestkitError::StartFailed { ref log, .. })
                    if attempts_left > 0 && PORT_CLASH_MARKERS.iter().any(|m| log.contains(m)) =>
                {
                    tracing::debug!(port = self.port, "port taken, retrying on another");
                }
                result => return result,
            }
        }
    }

    /// `pg_ctl start` on the current port, then waits until a connection succeeds.
    pub(super) fn launch(&self) -> Result<(), TestkitError> {
        let log_before = self.log().len();
        let mut start = self.runner.command(&self.binaries.pg_ctl());
        start
            .args(["start", "-w", "-t", "30", "-s", "-D"])
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .arg("-o")
            .arg(format!("-p {}", self.port))
            .current_dir(&self.base_dir);
        if let Err(error) = process::run(&mut start) {
            let log = self.log().get(log_before..).unwrap_or_default().to_owned();
            return Err(TestkitError::StartFailed {
                port: self.port,
                log: format!("{log}\n{error}"),
            });
        }
        let url = self.url("postgres");
        block_on_own_thread(wait_until_accepting(&url, READY_TIMEOUT))?.map_err(|_| {
            TestkitError::NotReady {
                port: self.port,
                timeout: READY_TIMEOUT,
                log: self.log(),
            }
        })
    }
}

/// A port that was free a moment ago: bind port 0 on loopback, read it, release it.
pub(crate) fn free_port() -> Result<u16, TestkitError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(TestkitError::io("find a free port"))
}
