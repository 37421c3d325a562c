//! The contract suites of every primitive through PgBouncer in transaction mode (testkit's,
//! in front of the test server): pools with the statement cache off, migrations and the
//! LISTEN connection on the direct server.

use gridstore::postgres::{PgConfig, PgPool, migrations};
use testkit::TestDatabase;

#[path = "shared/schema.rs"]
mod schema;

/// A fresh database, and a migrated pool on it through PgBouncer.
async fn bounced_pool() -> (PgPool, PgConfig, TestDatabase) {
    let db = testkit::database().await;
    let url = testkit::pgbouncer().await.url_for(&db);
    let direct = PgConfig::from_url(db.url()).expect("direct config");
    let config = PgConfig::from_url(&url)
        .expect("pgbouncer config")
        .with_statement_cache(false)
        .with_direct(Some(direct));
    let pool = PgPool::connect(&config)
        .await
        .expect("pool through pgbouncer");
    migrations::migrate(&pool)
        .await
        .expect("migrate on the direct server");
    (pool, config, db)
}

mod sessions {
    use gridstore::postgres::PgSessionStore;
    use testkit::TestDatabase;

    async fn store() -> (PgSessionStore, TestDatabase) {
        let (pool, _, db) = super::bounced_pool().await;
        (PgSessionStore::new(pool), db)
    }

    gridstore::session_contract_tests!(store);
}

mod kv {
    use gridstore::postgres::PgKvStore;
    use testkit::TestDatabase;

    async fn store() -> (PgKvStore, TestDatabase) {
        let (pool, _, db) = super::bounced_pool().await;
        (PgKvStore::new(pool), db)
    }

    gridstore::kv_contract_tests!(store);
}

mod event_log {
    use gridstore::postgres::{PgEventLog, PgListener};
    use testkit::TestDatabase;

    async fn store() -> (PgEventLog, TestDatabase) {
        let (pool, config, db) = super::bounced_pool().await;
        let listener = PgListener::start(&config).await.expect("listener");
        (PgEventLog::new(pool).with_listener(listener), db)
    }

    gridstore::event_log_contract_tests!(store);
}

mod checkpoints {
    use gridstore::postgres::PgCheckpointStore;
    use testkit::TestDatabase;

    async fn store() -> (PgCheckpointStore, TestDatabase) {
        let (pool, _, db) = super::bounced_pool().await;
        (PgCheckpointStore::new(pool), db)
    }

    gridstore::checkpoint_contract_tests!(store);
}

mod dlq {
    use gridstore::postgres::PgDeadLetterQueue;
    use testkit::TestDatabase;

    async fn store() -> (PgDeadLetterQueue, TestDatabase) {
        let (pool, _, db) = super::bounced_pool().await;
        (PgDeadLetterQueue::new(pool), db)
    }

    gridstore::dlq_contract_tests!(store);
}

mod leases {
    use gridstore::postgres::PgLocks;
    use testkit::TestDatabase;

    async fn store() -> (PgLocks, TestDatabase) {
        let (pool, _, db) = super::bounced_pool().await;
        (PgLocks::new(pool), db)
    }

    gridstore::lock_contract_tests!(store);
}

/// `PgTransaction` through a transaction pooler: pipelined `BEGIN` and `COMMIT`, and a guard
/// dropped open whose queued `ROLLBACK` reaches the server connection that holds it.
mod pipelined {
    use gridstore::Error;
    use gridstore::postgres::{PgPool, PgTransaction};

    const SCHEMA: &str = "create table items (id bigint primary key)";
    const INSERT: &str = "insert into items (id) values ($1)";

    async fn count(pool: &PgPool) -> i64 {
        let client = pool.get().await.expect("checkout");
        let statement = pool
            .prepare(&client, "select count(*) from items")
            .await
            .expect("prepare");
        statement
            .query_one(&client, &[])
            .await
            .expect("count")
            .get(0)
    }

    #[tokio::test]
    async fn a_pipelined_transaction_commits_and_a_dropped_one_rolls_back_through_pgbouncer() {
        // Arrange
        let (pool, _, _db) = super::bounced_pool().await;
        super::schema::create_schema(&pool, SCHEMA).await;

        // Act: one transaction commits, a second one is dropped after its insert.
        let tx = PgTransaction::new(pool.get().await.expect("checkout"));
        let insert = tx
            .begin_with(async { pool.prepare(&tx, INSERT).await })
            .await
            .expect("begin and prepare");
        tx.commit_with(vec![Box::pin(async {
            Ok::<_, Error>(insert.execute(&tx, &[&1_i64]).await?)
        })])
        .await
        .expect("insert and commit");
        drop(tx);
        let dropped = PgTransaction::new(pool.get().await.expect("checkout"));
        let inserted = dropped
            .begin_with(async { Ok::<_, Error>(insert.execute(&dropped, &[&2_i64]).await?) })
            .await
            .expect("begin and insert");
        drop(dropped);

        // Assert
        assert_eq!(inserted, 1);
        assert_eq!(count(&pool).await, 1, "only the committed insert");
    }
}
