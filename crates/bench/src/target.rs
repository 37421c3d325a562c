//! The server under load: started in-process on `127.0.0.1:0` (memory, or PostgreSQL from
//! testkit or `--database-url`), the real `escrowgrid` binary started as a child process
//! (`--server-bin`, memory backend), or an external one at `--url`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use escrowgrid::config::{Secret, Settings, StoreBackend};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::BoxError;

/// The environment variable whose value becomes the server child's `TOKIO_WORKER_THREADS`,
/// so that the server's runtime can be sized without resizing the load generator's.
pub const SERVER_WORKER_THREADS: &str = "LOADGEN_SERVER_WORKER_THREADS";

/// A running server and what it runs on. Dropping it stops everything it started.
#[derive(Debug)]
pub struct Target {
    /// `host:port`.
    pub authority: String,
    /// The root key, for the fixture.
    pub root_key: String,
    /// The database the server uses, for the pgbench baseline.
    pub database_url: Option<String>,
    /// Process id of a server started as a child process (its CPU and memory are read from
    /// `/proc/<pid>`); `None` when the server runs in this process or elsewhere.
    pub pid: Option<u32>,
    child: Option<Child>,
    server: Option<(oneshot::Sender<()>, JoinHandle<escrowgrid::Result<()>>)>,
    // Declared in drop order: the database before its server.
    _database: Option<testkit::TestDatabase>,
    _postgres: Option<testkit::TestPostgres>,
}

const ROOT_KEY: &str = "root_loadgen_0123456789abcdef0123456789abcdef0123";

impl Target {
    /// An in-process server on the memory backend.
    pub async fn memory() -> Result<Self, BoxError> {
        let mut settings = Settings::default();
        settings.store.backend = StoreBackend::Memory;
        Self::start(settings, None, None, None).await
    }

    /// A server on PostgreSQL: `database_url` if given, else a fresh database on a throwaway
    /// testkit server (durability off as in the tests, unless `durable`), with `adjust`
    /// applied to the server's settings last. In this process, or the binary `server_bin` as
    /// a child process (see [`Target::spawn`]; the settings it honours there are the pool size
    /// and the API-key cache TTL).
    pub async fn postgres_with(
        database_url: Option<String>,
        pool_max: usize,
        durable: bool,
        server_bin: Option<&Path>,
        adjust: impl FnOnce(&mut Settings),
    ) -> Result<Self, BoxError> {
        let (url, database, postgres) = match database_url {
            Some(url) => (url, None, None),
            None => {
                let postgres =
                    tokio::task::spawn_blocking(move || start_postgres(durable)).await??;
                let database = postgres.create_database().await;
                (database.url().to_owned(), Some(database), Some(postgres))
            }
        };
        let mut settings = Settings::default();
        settings.store.backend = StoreBackend::Postgres;
        settings.store.database_url = Some(Secret::new(url.clone()));
        settings.store.pool_max = pool_max;
        adjust(&mut settings);
        match server_bin {
            None => Self::start(settings, Some(url), database, postgres).await,
            Some(bin) => {
                let env = vec![
                    ("STORE_BACKEND", "postgres".to_owned()),
                    ("DATABASE_URL", url.clone()),
                    ("DATABASE_POOL_MAX", settings.store.pool_max.to_string()),
                    (
                        "API_KEY_CACHE_TTL_MS",
                        settings.store.api_key_cache_ttl_ms.to_string(),
                    ),
                ];
                let mut target = Self::spawn_with(bin, env).await?;
                target.database_url = Some(url);
                target._database = database;
                target._postgres = postgres;
                Ok(target)
            }
        }
    }

    /// The real server binary `bin` (`escrowgrid`, or `escrowgrid-floor`) started as a child
    /// process on the memory backend, on a free port of 127.0.0.1, with only the environment
    /// it needs (and `RUST_LOG`, `TOKIO_WORKER_THREADS` and `LD_PRELOAD` when this process has
    /// them; [`SERVER_WORKER_THREADS`] sets the child's `TOKIO_WORKER_THREADS` alone). Returns
    /// once `GET /health` answers (within 30 s).
    pub async fn spawn(bin: &Path) -> Result<Self, BoxError> {
        Self::spawn_with(bin, vec![("STORE_BACKEND", "memory".to_owned())]).await
    }

    /// [`Target::spawn`] with the store's environment `store_env`.
    async fn spawn_with(bin: &Path, store_env: Vec<(&str, String)>) -> Result<Self, BoxError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut command = Command::new(bin);
        command.env_clear();
        // Server knobs a comparison may vary: tokio's worker count, a preloaded allocator.
        for name in ["TOKIO_WORKER_THREADS", "LD_PRELOAD"] {
            if let Ok(value) = std::env::var(name) {
                command.env(name, value);
            }
        }
        // The server's worker count alone, leaving this process's runtime as it is.
        if let Ok(value) = std::env::var(SERVER_WORKER_THREADS) {
            command.env("TOKIO_WORKER_THREADS", value);
        }
        let mut child = command
            .arg("serve")
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .envs(store_env)
            .env("ROOT_API_KEY", ROOT_KEY)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let authority = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(format!("{} exited at start: {status}", bin.display()).into());
            }
            let healthy = match crate::client::Conn::connect(&authority, "").await {
                Ok(mut conn) => conn
                    .send(hyper::Method::GET, "/health", None)
                    .await
                    .is_ok_and(|r| r.status.is_success()),
                Err(_) => false,
            };
            if healthy {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!("{} did not answer /health within 30 s", bin.display()).into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            authority,
            root_key: ROOT_KEY.to_owned(),
            database_url: None,
            pid: Some(child.id()),
            child: Some(child),
            server: None,
            _database: None,
            _postgres: None,
        })
    }

    /// A server started elsewhere.
    pub fn external(url: &str, root_key: &str) -> Result<Self, BoxError> {
        let authority = url
            .strip_prefix("http://")
            .ok_or("--url must start with http:// (no TLS in the load generator)")?
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            authority,
            root_key: root_key.to_owned(),
            database_url: None,
            pid: None,
            child: None,
            server: None,
            _database: None,
            _postgres: None,
        })
    }

    async fn start(
        mut settings: Settings,
        database_url: Option<String>,
        database: Option<testkit::TestDatabase>,
        postgres: Option<testkit::TestPostgres>,
    ) -> Result<Self, BoxError> {
        settings.auth.root_api_key = Some(Secret::new(ROOT_KEY.to_owned()));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let authority = listener.local_addr()?.to_string();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(escrowgrid::server::serve(settings, listener, async move {
            let _ = stop_rx.await;
        }));
        Ok(Self {
            authority,
            root_key: ROOT_KEY.to_owned(),
            database_url,
            pid: None,
            child: None,
            server: Some((stop_tx, task)),
            _database: database,
            _postgres: postgres,
        })
    }

    /// A direct connection to the throwaway testkit database the server runs on (`None` for
    /// any other target), for seeding with SQL.
    pub async fn connect_database(&self) -> Option<tokio_postgres::Client> {
        match &self._database {
            Some(database) => Some(database.connect().await),
            None => None,
        }
    }

    /// The pid of the postmaster serving the target's database, when it runs on this machine
    /// (`None` otherwise, or for the memory backend): the parent of a backend's pid
    /// (`pg_backend_pid()`), read from `/proc`.
    pub async fn db_pid(&self) -> Option<u32> {
        let url = self.database_url.as_deref()?;
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .ok()?;
        let connection = tokio::spawn(connection);
        let backend: i32 = client
            .query_one("select pg_backend_pid()", &[])
            .await
            .ok()?
            .get(0);
        drop(client);
        let _ = connection.await;
        crate::stats::parent_pid(u32::try_from(backend).ok()?)
    }

    /// Stops the in-process server (if any) and waits for it to drain.
    pub async fn stop(mut self) -> Result<(), BoxError> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        if let Some((stop, task)) = self.server.take() {
            let _ = stop.send(());
            task.await??;
        }
        Ok(())
    }
}

/// A throwaway testkit server; `durable`: `fsync`, `synchronous_commit` and
/// `full_page_writes` on (PostgreSQL's defaults) instead of testkit's "off".
fn start_postgres(durable: bool) -> Result<testkit::TestPostgres, testkit::TestkitError> {
    let mut builder = testkit::TestPostgres::builder();
    if durable {
        for setting in ["fsync", "synchronous_commit", "full_page_writes"] {
            builder = builder.with_setting(setting, "on");
        }
    }
    builder.start()
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
