//! `commit`: unknown outcomes are reported, never retried; other commit errors are classified.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use gridstore::postgres::{PgPool, RetryPolicy, commit, transaction};
use gridstore::{Error, Result, Retryable};
use tokio_postgres::IsolationLevel;

use crate::schema::create_schema;
use crate::support::{backend_pid, fresh_pool, terminate_backend};

async fn pool_with_items() -> (testkit::TestDatabase, PgPool) {
    let (db, pool) = fresh_pool().await;
    create_schema(
        &pool,
        "create table items (id bigint primary key);
         create table refs (
             item_id bigint references items (id) deferrable initially deferred
         );
         create table counters (id bigint primary key, n bigint not null);
         insert into counters values (1, 0), (2, 0);",
    )
    .await;
    (db, pool)
}

#[tokio::test]
async fn a_connection_lost_right_before_commit_reports_an_unknown_outcome() {
    // Arrange
    let (_db, pool) = pool_with_items().await;
    let mut client = pool.get().await.expect("checkout");
    let pid = backend_pid(&client).await;
    let tx = client.transaction().await.expect("begin");
    tx.execute("insert into items values (1)", &[])
        .await
        .expect("insert");
    terminate_backend(&pool, pid).await;

    // Act
    let err = commit(tx).await.expect_err("commit cannot succeed");

    // Assert
    assert!(matches!(err, Error::CommitOutcomeUnknown(_)), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn the_transaction_helper_never_retries_an_unknown_commit_outcome() {
    // Arrange
    let (_db, pool) = pool_with_items().await;
    let attempts = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&attempts);
    let admin_pool = pool.clone();

    // Act: the body kills its own connection, then returns successfully
    let result: Result<()> = transaction(&pool, &RetryPolicy::default(), move |tx| {
        counted.fetch_add(1, Ordering::SeqCst);
        let admin_pool = admin_pool.clone();
        Box::pin(async move {
            tx.execute("insert into items values (1)", &[]).await?;
            let pid: i32 = tx.query_one("select pg_backend_pid()", &[]).await?.get(0);
            terminate_backend(&admin_pool, pid).await;
            Ok(())
        })
    })
    .await;

    // Assert
    assert!(
        matches!(result, Err(Error::CommitOutcomeUnknown(_))),
        "{result:?}"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_deferred_constraint_failing_at_commit_is_classified_normally() {
    let (_db, pool) = pool_with_items().await;
    let mut client = pool.get().await.expect("checkout");
    let tx = client.transaction().await.expect("begin");
    tx.execute("insert into refs values (42)", &[])
        .await
        .expect("deferred check");

    let err = commit(tx).await.expect_err("foreign key fails at commit");

    assert!(matches!(err, Error::ForeignKeyViolation { .. }), "{err:?}");
}

#[tokio::test]
async fn write_skew_under_serializable_fails_the_second_commit_with_a_serialization_failure() {
    // Arrange: both read everything, then each writes a different row
    let (_db, pool) = pool_with_items().await;
    let (mut c1, mut c2) = (pool.get().await.expect("c1"), pool.get().await.expect("c2"));
    let serializable = IsolationLevel::Serializable;
    let t1 = c1
        .build_transaction()
        .isolation_level(serializable)
        .start()
        .await
        .expect("t1");
    let t2 = c2
        .build_transaction()
        .isolation_level(serializable)
        .start()
        .await
        .expect("t2");
    let sum = "select sum(n)::bigint from counters";
    t1.query_one(sum, &[]).await.expect("t1 reads");
    t2.query_one(sum, &[]).await.expect("t2 reads");
    t1.execute("update counters set n = 1 where id = 1", &[])
        .await
        .expect("t1 writes");
    t2.execute("update counters set n = 1 where id = 2", &[])
        .await
        .expect("t2 writes");

    // Act
    commit(t1).await.expect("first committer wins");
    let err = commit(t2).await.expect_err("second cannot serialize");

    // Assert
    assert!(matches!(err, Error::SerializationFailure), "{err:?}");
}
