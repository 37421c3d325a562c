//! A durable primary with a synchronous standby, and the pieces of gridstore on a multi-host
//! URL that finds whichever of the two accepts writes.

use std::time::{Duration, Instant};

use gridstore::postgres::{PgConfig, PgEventLog, PgListener, PgLocks, PgPool, migrations};
use testkit::{TestDatabase, TestPostgres};

/// How long any wait of these tests may take.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The two servers, the test database (created on the primary, replicated), and gridstore's
/// primitives on the multi-host URL.
pub struct Cluster {
    pub primary: TestPostgres,
    pub standby: TestPostgres,
    pub db: TestDatabase,
    pub locks: PgLocks,
    pub listener: PgListener,
    pub log: PgEventLog,
}

/// A plain connection (no pool) to `url`.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

impl Cluster {
    /// Starts a durable primary (`fsync`, `synchronous_commit` on) and a standby, makes the
    /// standby synchronous, and connects gridstore through
    /// `host=standby,primary&target_session_attrs=read-write`.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`Cluster::start`] with more settings for the primary (and so the standby).
    pub async fn start_with(settings: &[(&'static str, &'static str)]) -> Self {
        let settings = settings.to_vec();
        let (primary, standby) = tokio::task::spawn_blocking(move || {
            let mut builder = TestPostgres::builder()
                .with_setting("fsync", "on")
                .with_setting("synchronous_commit", "on");
            for (name, value) in settings {
                builder = builder.with_setting(name, value);
            }
            let primary = builder.start().expect("primary");
            let standby = primary.start_replica().expect("standby");
            (primary, standby)
        })
        .await
        .expect("servers");
        let admin = connect(&primary.url("postgres")).await;
        for sql in [
            "alter system set synchronous_standby_names = '*'",
            "select pg_reload_conf()",
        ] {
            admin
                .batch_execute(sql)
                .await
                .expect("make the standby synchronous");
        }
        let started = Instant::now();
        loop {
            let sync: bool = admin
                .query_one(
                    "select exists (select 1 from pg_stat_replication where sync_state = 'sync')",
                    &[],
                )
                .await
                .expect("pg_stat_replication")
                .get(0);
            if sync {
                break;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "the standby never became synchronous"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let db = primary.create_database().await;
        let url = format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/{}?target_session_attrs=read-write&connect_timeout=2",
            standby.port(),
            primary.port(),
            db.name()
        );
        let config = PgConfig::from_url(&url)
            .expect("config")
            .with_pool_max_size(8);
        let pool = PgPool::connect(&config)
            .await
            .expect("pool finds the primary");
        migrations::migrate(&pool).await.expect("migrate");
        let listener = PgListener::start(&config).await.expect("listener");
        Self {
            primary,
            standby,
            db,
            locks: PgLocks::new(pool.clone()),
            log: PgEventLog::new(pool.clone()).with_listener(listener.clone()),
            listener,
        }
    }

    /// Kills the primary with SIGKILL (its whole process group), then promotes the standby;
    /// returns when the standby accepts writes. Needs the multi-threaded runtime.
    pub fn fail_over(&mut self) {
        tokio::task::block_in_place(|| {
            self.primary.kill();
            self.standby.promote();
        });
    }
}
