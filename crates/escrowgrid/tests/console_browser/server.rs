//! The real server in this process on `127.0.0.1:0`, on memory or PostgreSQL.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use escrowgrid::config::{Secret, Settings, StoreBackend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The root key of the servers these tests start.
pub const ROOT_KEY: &str = "root_console_0123456789abcdef0123456789abcdef0123";

/// A running server; [`Server::stop`] shuts it down.
pub struct Server {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<escrowgrid::Result<()>>,
}

impl Server {
    /// Starts `serve` with `database_url` (PostgreSQL) or on memory and waits for `/ready`.
    pub async fn start(database_url: Option<&str>) -> Self {
        Self::start_with(database_url, |_| {}).await
    }

    /// [`Server::start`] with `adjust` applied to the settings last.
    pub async fn start_with(
        database_url: Option<&str>,
        adjust: impl FnOnce(&mut Settings),
    ) -> Self {
        let mut settings = Settings::default();
        settings.auth.root_api_key = Some(Secret::new(ROOT_KEY.to_owned()));
        if let Some(url) = database_url {
            settings.store.backend = StoreBackend::Postgres;
            settings.store.database_url = Some(Secret::new(url.to_owned()));
            settings.store.pool_max = 4;
        }
        adjust(&mut settings);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(escrowgrid::server::serve(settings, listener, async move {
            let _ = stopped.await;
        }));
        let server = Self { addr, stop, task };
        server.wait_ready().await;
        server
    }

    /// The console's address.
    pub fn console_url(&self) -> String {
        format!("http://{}/console", self.addr)
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if status_line(self.addr, "/ready")
                .await
                .starts_with("HTTP/1.1 200")
            {
                return;
            }
            assert!(Instant::now() < deadline, "server not ready within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Shuts down and checks `serve` returned cleanly.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("server task")
            .expect("serve returned an error");
    }
}

/// The status line of `GET path` (empty when the server does not answer yet).
async fn status_line(addr: SocketAddr, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return String::new();
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}
