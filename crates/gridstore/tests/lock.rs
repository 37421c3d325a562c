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
    use std::time::Duration;

    use gridstore::postgres::{PgConfig, PgLocks, PgPool, migrations};
    use gridstore::{Error, Locks};
    use testkit::TestDatabase;

    async fn store() -> (PgLocks, TestDatabase) {
        let db = testkit::database().await;
        let config = PgConfig::from_url(db.url()).expect("config");
        let pool = PgPool::connect(&config).await.expect("pool");
        migrations::migrate(&pool).await.expect("migrate");
        (PgLocks::new(pool), db)
    }

    gridstore::lock_contract_tests!(store);

    /// Delays the insert of a grant to holder `slow` by one second, after its token was drawn.
    const SLOW_GRANTS: &str = "create function slow_grant() returns trigger language plpgsql as $$
        begin
            if new.holder = 'slow' then perform pg_sleep(1); end if;
            return new;
        end $$;
        create trigger slow_grant before insert on gs_leases
            for each row execute function slow_grant()";

    const SLEEPING: &str = "select count(*) from pg_stat_activity where wait_event = 'PgSleep' and pid <> pg_backend_pid()";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_grant_that_drew_its_token_before_a_faster_grant_still_gets_a_larger_token() {
        // Arrange: a grant of a free key that stalls between drawing its token and inserting.
        let (locks, db) = store().await;
        let admin = PgPool::connect(&PgConfig::from_url(db.url()).expect("config"))
            .await
            .expect("pool");
        let admin = admin.get().await.expect("client");
        admin.batch_execute(SLOW_GRANTS).await.expect("trigger");
        let slow_locks = locks.clone();
        let slow = tokio::spawn(async move {
            slow_locks
                .acquire("k", "slow", Duration::from_secs(30))
                .await
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let sleeping: i64 = admin
                .query_one(SLEEPING, &[])
                .await
                .expect("activity")
                .get(0);
            if sleeping == 1 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "slow grant never stalled"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // Act: another holder asks for the same key while the slow grant is stalled.
        let fast = locks.acquire("k", "fast", Duration::from_secs(30)).await;
        if let Ok(lease) = &fast {
            locks.release(lease).await.expect("release");
        }
        let slow = slow.await.expect("join").expect("slow grant");

        // Assert: either the fast grant waited and lost, or it came first with a smaller token.
        match fast {
            Err(Error::LockHeld { holder, .. }) => assert_eq!(holder, "slow"),
            Ok(fast) => assert!(
                slow.fencing_token > fast.fencing_token,
                "the later grant got token {} after token {}",
                slow.fencing_token,
                fast.fencing_token
            ),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
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
