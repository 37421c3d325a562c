//! Starting the real server: in-process through `escrowgrid::server::serve` on `127.0.0.1:0`,
//! or as the `escrowgrid` binary in a child process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use escrowgrid::config::{Secret, Settings, StoreBackend};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::client::Client;

/// The root key of in-process servers.
pub const ROOT_KEY: &str = "root_e2e_0123456789abcdef0123456789abcdef01234567";

/// Settings for an in-process server on PostgreSQL at `database_url`.
pub fn postgres_settings(database_url: &str) -> Settings {
    let mut settings = Settings::default();
    settings.store.backend = StoreBackend::Postgres;
    settings.store.database_url = Some(Secret::new(database_url.to_owned()));
    settings.store.pool_max = 8;
    settings.auth.root_api_key = Some(Secret::new(ROOT_KEY.to_owned()));
    settings
}

/// A server running in this process; stop it with [`TestServer::stop`].
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<escrowgrid::Result<()>>,
}

impl TestServer {
    /// Starts `serve` on a fresh `127.0.0.1:0` listener.
    pub async fn start(settings: Settings) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(escrowgrid::server::serve(settings, listener, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Starts a PostgreSQL server on `database_url` and waits until `/ready` answers 200.
    pub async fn postgres(database_url: &str) -> Self {
        let server = Self::start(postgres_settings(database_url)).await;
        server.wait_ready().await;
        server
    }

    /// Polls `/ready` until it answers 200 (migrations done), with a 30 s deadline.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut client = Client::connect(self.addr, None).await;
            if client.get("/ready").await.status == 200 {
                return;
            }
            assert!(Instant::now() < deadline, "server not ready within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A client authenticated as root.
    pub async fn root(&self) -> Client {
        Client::connect(self.addr, Some(ROOT_KEY)).await
    }

    /// A client authenticated with `key`.
    pub async fn client(&self, key: &str) -> Client {
        Client::connect(self.addr, Some(key)).await
    }

    /// Asks the server to shut down without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits for `serve` to return; panics if it failed.
    pub async fn stop(mut self) {
        self.begin_shutdown();
        self.task
            .await
            .expect("server task")
            .expect("serve returned an error");
    }

    /// Waits for `serve` to return after [`TestServer::begin_shutdown`].
    pub async fn join(self) -> escrowgrid::Result<()> {
        self.task.await.expect("server task")
    }
}

/// The `escrowgrid` binary running `serve` in a child process.
pub struct BinaryServer {
    child: Child,
    pub addr: SocketAddr,
    /// The root key the process generated and printed to stderr.
    pub generated_root_key: Option<String>,
    stderr_seen: String,
    stdout_seen: String,
    stdout: BufReader<ChildStdout>,
}

impl BinaryServer {
    /// Spawns `escrowgrid serve` on PostgreSQL at `database_url`, port 0, JSON logs, no root
    /// key (so it generates one); waits for the "listening" log line.
    pub fn spawn(database_url: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_escrowgrid"))
            .arg("serve")
            .args(["--host", "127.0.0.1", "--port", "0"])
            .env_clear()
            .env("STORE_BACKEND", "postgres")
            .env("DATABASE_URL", database_url)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the escrowgrid binary");
        let stderr = child.stderr.take().expect("stderr");
        let (generated_root_key, stderr_seen) = read_generated_key(stderr);
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (addr, stdout_seen) = read_listening_addr(&mut stdout);
        Self {
            child,
            addr,
            generated_root_key,
            stderr_seen,
            stdout_seen,
            stdout,
        }
    }

    /// What the process printed to stderr before listening.
    pub fn stderr(&self) -> &str {
        &self.stderr_seen
    }

    /// Sends SIGTERM (via `kill`, no unsafe code) and returns the exit status and all of
    /// stdout (the JSON logs).
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let mut rest = std::mem::take(&mut self.stdout_seen);
        for line in (&mut self.stdout).lines() {
            rest.push_str(&line.expect("stdout line"));
            rest.push('\n');
        }
        let exit = self.child.wait().expect("wait for escrowgrid");
        (exit, rest)
    }
}

impl Drop for BinaryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads stderr up to the blank line after the generated key; stderr then drains in a thread.
fn read_generated_key(stderr: ChildStderr) -> (Option<String>, String) {
    let mut reader = BufReader::new(stderr);
    let mut seen = String::new();
    let mut key = None;
    let mut line = String::new();
    while reader.read_line(&mut line).expect("stderr line") > 0 {
        seen.push_str(&line);
        if let Some(k) = line.trim().strip_prefix("root_") {
            key = Some(format!("root_{k}"));
            break;
        }
        line.clear();
    }
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    (key, seen)
}

/// Reads JSON log lines until the `listening` event; returns its `addr` and the lines read.
fn read_listening_addr(stdout: &mut BufReader<ChildStdout>) -> (SocketAddr, String) {
    let mut seen = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = stdout.read_line(&mut line).expect("stdout line");
        seen.push_str(&line);
        assert!(n > 0, "escrowgrid exited before listening");
        let event: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        if event["message"] == "listening" {
            let addr = event["addr"]
                .as_str()
                .expect("addr field")
                .parse()
                .expect("socket address");
            return (addr, seen);
        }
    }
}
