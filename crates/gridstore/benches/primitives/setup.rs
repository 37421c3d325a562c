//! The benchmark's own PostgreSQL server, its settings, and the knobs read from the environment.

use std::path::PathBuf;
use std::time::Duration;

use gridstore::postgres::{PgConfig, PgPool};
use testkit::{TestDatabase, TestPostgres};

use crate::BoxError;

/// Knobs, from the environment (all optional):
///
/// - `GSBENCH_SECS`: seconds per timed run (default 3);
/// - `GSBENCH_REPS`: repetitions of each comparison, the median is reported (default 3);
/// - `GSBENCH_DURABLE`: `1` (default) runs the server with PostgreSQL's durable defaults
///   (`fsync`, `synchronous_commit`, `full_page_writes` on); `0` keeps testkit's durability-off
///   settings.
///
/// Positional arguments select sections by name (`sessions`, `batch`, `events`, `delivery`,
/// `memory`); none runs them all.
#[derive(Debug, Clone)]
pub struct Settings {
    pub run_time: Duration,
    pub reps: usize,
    pub durable: bool,
    sections: Vec<String>,
}

impl Settings {
    /// Reads the environment and the command line (ignoring `--bench` and other flags).
    pub fn from_env() -> Result<Self, BoxError> {
        let secs: f64 = env_or("GSBENCH_SECS", "3").parse()?;
        let reps: usize = env_or("GSBENCH_REPS", "3").parse()?;
        let durable = env_or("GSBENCH_DURABLE", "1") != "0";
        let sections = std::env::args()
            .skip(1)
            .filter(|arg| !arg.starts_with('-'))
            .collect();
        Ok(Self {
            run_time: Duration::from_secs_f64(secs),
            reps: reps.max(1),
            durable,
            sections,
        })
    }

    /// Whether the section `name` runs.
    pub fn runs(&self, name: &str) -> bool {
        self.sections.is_empty() || self.sections.iter().any(|s| s == name)
    }

    /// Client-side seconds for pgbench's `-T` (whole seconds, at least 1).
    pub fn pgbench_secs(&self) -> u64 {
        self.run_time.as_secs().max(1)
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The dedicated server, one database on it, a gridstore pool and a scratch directory.
///
/// Fields drop in order: pool, database, then the server.
#[derive(Debug)]
pub struct Bench {
    pub settings: Settings,
    pub pool: PgPool,
    pub config: PgConfig,
    pub db: TestDatabase,
    pub server: TestPostgres,
    pub scratch: Scratch,
}

impl Bench {
    /// Starts the server (blocking), creates the database, connects and migrates.
    pub async fn start(settings: Settings) -> Result<Self, BoxError> {
        let durability = if settings.durable { "on" } else { "off" };
        let server = tokio::task::spawn_blocking(move || {
            TestPostgres::builder()
                .with_setting("fsync", durability)
                .with_setting("synchronous_commit", durability)
                .with_setting("full_page_writes", durability)
                .with_setting("shared_preload_libraries", "pg_stat_statements")
                .with_setting("pg_stat_statements.track_utility", "on")
                .start()
        })
        .await??;
        let db = server.create_database().await;
        let config = PgConfig::from_url(db.url())?
            .with_pool_max_size(8)
            .with_application_name("gsbench");
        let pool = PgPool::connect(&config).await?;
        gridstore::postgres::migrations::migrate(&pool).await?;
        pool.get()
            .await?
            .batch_execute("create extension if not exists pg_stat_statements")
            .await?;
        Ok(Self {
            settings,
            pool,
            config,
            db,
            server,
            scratch: Scratch::create()?,
        })
    }

    /// The server's TCP port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The database name.
    pub fn dbname(&self) -> &str {
        self.db.name()
    }

    /// Runs SQL (several statements allowed) on a pooled connection.
    pub async fn execute(&self, sql: &str) -> Result<(), BoxError> {
        self.pool.get().await?.batch_execute(sql).await?;
        Ok(())
    }

    /// `show server_version` and the durability settings, for the report header.
    pub async fn describe_server(&self) -> Result<String, BoxError> {
        let client = self.pool.get().await?;
        let mut parts = Vec::new();
        for name in [
            "server_version",
            "fsync",
            "synchronous_commit",
            "full_page_writes",
            "shared_buffers",
        ] {
            let row = client.query_one(&format!("show {name}"), &[]).await?;
            parts.push(format!("{name}={}", row.get::<_, String>(0)));
        }
        Ok(parts.join(", "))
    }
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`); on this 2-core machine anything
/// above 2 means the benchmark competed for CPU.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// A private temporary directory for pgbench scripts, logs and COPY data; removed on drop.
#[derive(Debug)]
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    fn create() -> Result<Self, BoxError> {
        let dir = std::env::temp_dir().join(format!(
            "gsbench-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_millis()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("gsbench: could not remove {}: {error}", self.dir.display());
        }
    }
}
