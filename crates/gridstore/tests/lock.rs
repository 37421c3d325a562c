//! The lease contract suite against every backend.

mod memory {
    use std::sync::Arc;
    use std::time::Duration;

    use gridstore::memory::{ManualClock, MemoryLocks};
    use gridstore::{Error, Locks};

    async fn store() -> (MemoryLocks, ()) {
        (MemoryLocks::new(), ())
    }

    gridstore::lock_contract_tests!(store);

    #[tokio::test]
    async fn on_a_manual_clock_a_lease_expires_exactly_at_its_ttl() {
        let clock = ManualClock::default();
        let locks = MemoryLocks::with_clock(Arc::new(clock.clone()));
        let lease = locks
            .acquire("k", "a", Duration::from_millis(1000))
            .await
            .expect("acquire");

        clock.advance(chrono::Duration::milliseconds(999));
        assert!(matches!(
            locks.acquire("k", "b", Duration::from_secs(1)).await,
            Err(Error::LockHeld { .. })
        ));
        let extended = locks
            .extend(&lease, Duration::from_millis(1000))
            .await
            .expect("extend before expiry");
        clock.advance(chrono::Duration::milliseconds(1000));
        assert!(matches!(
            locks.extend(&extended, Duration::from_secs(1)).await,
            Err(Error::LockNotHeld { .. })
        ));
        let taken = locks
            .acquire("k", "b", Duration::from_secs(1))
            .await
            .expect("take over exactly at expiry");
        assert!(taken.fencing_token > lease.fencing_token);
    }
}

mod postgres {
    use gridstore::postgres::{PgConfig, PgLocks, PgPool, migrations};
    use testkit::TestDatabase;

    async fn store() -> (PgLocks, TestDatabase) {
        let db = testkit::database().await;
        let config = PgConfig::from_url(db.url()).expect("config");
        let pool = PgPool::connect(&config).await.expect("pool");
        migrations::migrate(&pool).await.expect("migrate");
        (PgLocks::new(pool), db)
    }

    gridstore::lock_contract_tests!(store);
}

mod advisory {
    use std::time::Duration;

    use gridstore::postgres::{
        PgConfig, PgPool, advisory_key, try_advisory_xact_lock, with_advisory_xact_lock,
    };

    const WAITING: &str = "select count(*) from pg_locks
        where locktype = 'advisory' and not granted
          and database = (select oid from pg_database where datname = current_database())";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_advisory_transaction_lock_excludes_others_until_the_holder_commits() {
        // Arrange: one pool, a stable key.
        let db = testkit::database().await;
        let pool = PgPool::connect(&PgConfig::from_url(db.url()).expect("config"))
            .await
            .expect("pool");
        let key = advisory_key("nightly-report");
        assert_eq!(key, advisory_key("nightly-report"));
        assert_ne!(key, advisory_key("other"));
        let mut first = pool.get().await.expect("client");
        let holder = first.transaction().await.expect("begin");
        assert!(try_advisory_xact_lock(&holder, key).await.expect("try"));

        // Act: another transaction tries, then waits for the lock.
        let waiter_pool = pool.clone();
        let waiter = tokio::spawn(async move {
            let mut second = waiter_pool.get().await.expect("client");
            let contender = second.transaction().await.expect("begin");
            let taken_at_once = try_advisory_xact_lock(&contender, key).await.expect("try");
            with_advisory_xact_lock(&contender, key)
                .await
                .expect("wait");
            contender.commit().await.expect("commit");
            taken_at_once
        });

        // Assert: the waiter blocks on the lock until the holder commits.
        let observer = pool.get().await.expect("client");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let waiting: i64 = observer
                .query_one(WAITING, &[])
                .await
                .expect("locks")
                .get(0);
            if waiting == 1 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waiter never blocked"
            );
            assert!(
                !waiter.is_finished(),
                "waiter got the lock while it was held"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        holder.commit().await.expect("commit");
        let taken_at_once = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("waiter never got the lock")
            .expect("join");
        assert!(!taken_at_once, "try-lock succeeded while the lock was held");
    }
}
