//! Read replicas: a streaming replica started by testkit (`pg_basebackup -R`); reads go there
//! while its lag is within the limit, and to the primary when it lags or is down.

use std::time::{Duration, Instant};

use gridstore::postgres::{PgConfig, PgPool, PgReadPools, ReplicaOptions};
use testkit::TestPostgres;

const DEADLINE: Duration = Duration::from_secs(30);

/// Whether a read connection of `pools` is on a standby.
async fn read_is_on_replica(pools: &PgReadPools) -> bool {
    let client = pools
        .get()
        .await
        .expect("a read connection, never an error");
    client
        .query_one("select pg_is_in_recovery()", &[])
        .await
        .expect("query")
        .get(0)
}

/// Polls until reads land (or stop landing) on the replica, failing after [`DEADLINE`].
async fn wait_until_reads_on_replica(pools: &PgReadPools, on_replica: bool, what: &str) {
    let started = Instant::now();
    while read_is_on_replica(pools).await != on_replica {
        assert!(
            started.elapsed() < DEADLINE,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_use_a_fresh_replica_and_fall_back_to_the_primary_when_it_lags_or_dies() {
    // Arrange
    let (primary, mut replica) = tokio::task::spawn_blocking(|| {
        let primary = TestPostgres::start().expect("primary");
        let replica = primary.start_replica().expect("replica");
        (primary, replica)
    })
    .await
    .expect("start servers");
    let db = primary.create_database().await;
    let primary_pool = PgPool::connect(&PgConfig::from_url(db.url()).expect("config"))
        .await
        .expect("primary pool");
    let replica_config = PgConfig::from_url(&replica.url(db.name()))
        .expect("replica config")
        .with_connect_timeout(Duration::from_secs(1));
    let options = ReplicaOptions {
        max_lag: Duration::from_millis(300),
        check_interval: Duration::from_millis(50),
    };
    let pools = PgReadPools::connect(primary_pool.clone(), &[replica_config], options)
        .await
        .expect("read pools");

    // Act + assert: once the replica has the database and is caught up, reads go there.
    wait_until_reads_on_replica(&pools, true, "reads use the caught-up replica").await;
    let writer = primary_pool.get().await.expect("writer");
    writer
        .batch_execute("create table t (n int); insert into t values (1)")
        .await
        .expect("write");
    let started = Instant::now();
    loop {
        let client = pools.get().await.expect("read");
        let seen = client.query_opt("select n from t", &[]).await;
        if seen.is_ok_and(|row| row.is_some()) {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the replica never replayed the write"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A replica that stops replaying falls behind the limit: reads go to the primary.
    let replica_admin = PgPool::connect(
        &PgConfig::from_url(&replica.url("postgres")).expect("replica admin config"),
    )
    .await
    .expect("replica admin");
    let admin = replica_admin.get().await.expect("admin");
    admin
        .batch_execute("select pg_wal_replay_pause()")
        .await
        .expect("pause replay");
    writer
        .batch_execute("insert into t values (2)")
        .await
        .expect("write while paused");
    wait_until_reads_on_replica(&pools, false, "a lagging replica is skipped").await;
    assert!(
        pools.lags()[0].is_none(),
        "the lagging replica is reported unusable"
    );

    // Caught up again: back to the replica.
    admin
        .batch_execute("select pg_wal_replay_resume()")
        .await
        .expect("resume replay");
    wait_until_reads_on_replica(&pools, true, "the caught-up replica is used again").await;
    drop(admin);
    replica_admin.close();

    // A dead replica: every read still succeeds, on the primary.
    tokio::task::spawn_blocking(move || {
        replica.stop();
        replica
    })
    .await
    .expect("stop replica");
    let started = Instant::now();
    while pools.lags()[0].is_some() {
        assert!(
            started.elapsed() < DEADLINE,
            "the dead replica is never noticed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..20 {
        assert!(
            !read_is_on_replica(&pools).await,
            "read served by the primary"
        );
    }
}
