//! Failover: a primary with a synchronous standby (durable: fsync and synchronous_commit on)
//! is killed with SIGKILL and the standby promoted. A pool on a multi-host URL with
//! `target_session_attrs=read-write` finds the new primary by itself, and every write it
//! acknowledged is there.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gridstore::postgres::{PgConfig, PgPool};
use testkit::TestPostgres;
use tokio::sync::Mutex;

const DEADLINE: Duration = Duration::from_secs(30);
/// How soon after the promotion writes must succeed again.
const RECONNECT_WITHIN: Duration = Duration::from_secs(5);

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

/// Acknowledged writes and when each succeeded.
#[derive(Default)]
struct Log {
    acked: Vec<i32>,
    successes: Vec<Instant>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_killing_the_primary_and_the_pool_finds_the_promoted_standby() {
    // Arrange: a durable primary and a synchronous standby.
    let (primary, standby) = tokio::task::spawn_blocking(|| {
        let primary = TestPostgres::builder()
            .with_setting("fsync", "on")
            .with_setting("synchronous_commit", "on")
            .start()
            .expect("primary");
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
    let pool = PgPool::connect(
        &PgConfig::from_url(&url)
            .expect("config")
            .with_pool_max_size(4),
    )
    .await
    .expect("pool finds the primary");
    pool.get()
        .await
        .expect("client")
        .batch_execute("create table acked (id int primary key)")
        .await
        .expect("create table");

    // Act: write continuously; kill the primary, then promote the standby.
    let log = Arc::new(Mutex::new(Log::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (pool, log, stop) = (pool.clone(), log.clone(), stop.clone());
        async move {
            let mut next = 0;
            while !stop.load(Ordering::Acquire) {
                let written = async {
                    let client = pool.get().await?;
                    client
                        .execute("insert into acked values ($1)", &[&next])
                        .await?;
                    Ok::<_, gridstore::Error>(())
                }
                .await;
                if written.is_ok() {
                    let mut log = log.lock().await;
                    log.acked.push(next);
                    log.successes.push(Instant::now());
                } else {
                    // Unacknowledged: may or may not be there. Pace the retries.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                next += 1;
            }
        }
    });
    let started = Instant::now();
    while log.lock().await.acked.len() < 50 {
        assert!(
            started.elapsed() < DEADLINE,
            "no writes before the failover"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (primary, standby) = tokio::task::spawn_blocking(move || {
        let mut primary = primary;
        primary.kill();
        standby.promote();
        (primary, standby)
    })
    .await
    .expect("failover");
    let promoted_at = Instant::now();
    loop {
        let resumed = log
            .lock()
            .await
            .successes
            .iter()
            .any(|at| *at > promoted_at);
        if resumed {
            break;
        }
        assert!(
            promoted_at.elapsed() < DEADLINE,
            "writes never resumed after the promotion"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let resumed_after = log
        .lock()
        .await
        .successes
        .iter()
        .find(|at| **at > promoted_at)
        .map(|at| at.duration_since(promoted_at))
        .expect("a write after the promotion");
    stop.store(true, Ordering::Release);
    writer.await.expect("writer");

    // Assert
    assert!(
        resumed_after <= RECONNECT_WITHIN,
        "writes resumed {resumed_after:?} after the promotion"
    );
    let survivor = connect(&standby.url(db.name())).await;
    let stored: Vec<i32> = survivor
        .query("select id from acked", &[])
        .await
        .expect("read the new primary")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let acked = log.lock().await.acked.clone();
    let missing: Vec<_> = acked.iter().filter(|id| !stored.contains(id)).collect();
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    eprintln!(
        "failover: {} acknowledged writes, all on the new primary; writes resumed {resumed_after:?} after the promotion",
        acked.len()
    );
    drop(primary);
}
