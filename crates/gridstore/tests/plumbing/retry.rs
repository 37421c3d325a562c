//! `retry` and `transaction`: backoff, giving up, and real deadlock / serialization losers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use gridstore::postgres::{PgPool, RetryPolicy, retry, transaction, transaction_with};
use gridstore::{Error, Result};
use tokio::sync::Barrier;
use tokio_postgres::IsolationLevel;

use crate::schema::create_schema;
use crate::support::fresh_pool;

fn fast_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

async fn pool_with_counters() -> (testkit::TestDatabase, PgPool) {
    let (db, pool) = fresh_pool().await;
    create_schema(
        &pool,
        "create table counters (id bigint primary key, n bigint not null);
         insert into counters values (1, 0), (2, 0);",
    )
    .await;
    (db, pool)
}

async fn counter(pool: &PgPool, id: i64) -> i64 {
    pool.get()
        .await
        .expect("checkout")
        .query_one("select n from counters where id = $1", &[&id])
        .await
        .expect("counter")
        .get(0)
}

#[tokio::test]
async fn retry_runs_again_until_success() {
    let mut attempts = 0;

    let result: Result<u32> = retry(&fast_policy(5), || {
        attempts += 1;
        let outcome = if attempts < 3 {
            Err(Error::Deadlock)
        } else {
            Ok(attempts)
        };
        async move { outcome }
    })
    .await;

    assert_eq!(result.expect("third attempt succeeds"), 3);
}

#[tokio::test]
async fn retry_gives_up_after_max_attempts() {
    let mut attempts = 0;

    let result: Result<()> = retry(&fast_policy(4), || {
        attempts += 1;
        async { Err(Error::SerializationFailure) }
    })
    .await;

    assert!(matches!(result, Err(Error::SerializationFailure)));
    assert_eq!(attempts, 4);
}

#[tokio::test]
async fn retry_never_repeats_a_non_retryable_error() {
    let mut attempts = 0;

    let result: Result<()> = retry(&fast_policy(5), || {
        attempts += 1;
        async { Err(Error::InvalidInput("bad".to_owned())) }
    })
    .await;

    assert!(matches!(result, Err(Error::InvalidInput(_))));
    assert_eq!(attempts, 1);
}

/// Locks `first` then, on the first attempt only after both sides hold their first lock,
/// `second`; counts attempts.
async fn lock_in_order(
    pool: &PgPool,
    barrier: Arc<Barrier>,
    attempts: Arc<AtomicU32>,
    first: i64,
    second: i64,
) -> Result<()> {
    transaction(pool, &fast_policy(5), move |tx| {
        let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
        let barrier = Arc::clone(&barrier);
        Box::pin(async move {
            let lock = "update counters set n = n + 1 where id = $1";
            tx.execute(lock, &[&first]).await?;
            if attempt == 1 {
                barrier.wait().await;
            }
            tx.execute(lock, &[&second]).await?;
            Ok(())
        })
    })
    .await
}

#[tokio::test]
async fn the_deadlock_loser_is_retried_to_success() {
    // Arrange
    let (_db, pool) = pool_with_counters().await;
    let barrier = Arc::new(Barrier::new(2));
    let (a, b) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));

    // Act
    let (first, second) = tokio::join!(
        lock_in_order(&pool, Arc::clone(&barrier), Arc::clone(&a), 1, 2),
        lock_in_order(&pool, Arc::clone(&barrier), Arc::clone(&b), 2, 1),
    );

    // Assert: both committed, after at least one retry. A retry may race the winner for the
    // row the victim released and deadlock again, so more than one retry is legitimate.
    first.expect("first transaction commits");
    second.expect("second transaction commits");
    assert!(a.load(Ordering::SeqCst) + b.load(Ordering::SeqCst) >= 3);
    assert_eq!((counter(&pool, 1).await, counter(&pool, 2).await), (2, 2));
}

/// Reads then increments counter 1 under `serializable`; on the first attempt both sides read
/// before either writes.
async fn increment_serializably(
    pool: &PgPool,
    barrier: Arc<Barrier>,
    attempts: Arc<AtomicU32>,
) -> Result<()> {
    transaction_with(
        pool,
        &fast_policy(5),
        IsolationLevel::Serializable,
        move |tx| {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            let barrier = Arc::clone(&barrier);
            Box::pin(async move {
                let n: i64 = tx
                    .query_one("select n from counters where id = 1", &[])
                    .await?
                    .get(0);
                if attempt == 1 {
                    barrier.wait().await;
                }
                tx.execute("update counters set n = $1 where id = 1", &[&(n + 1)])
                    .await?;
                Ok(())
            })
        },
    )
    .await
}

#[tokio::test]
async fn the_serialization_loser_is_retried_to_success() {
    // Arrange
    let (_db, pool) = pool_with_counters().await;
    let barrier = Arc::new(Barrier::new(2));
    let (a, b) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));

    // Act
    let (first, second) = tokio::join!(
        increment_serializably(&pool, Arc::clone(&barrier), Arc::clone(&a)),
        increment_serializably(&pool, Arc::clone(&barrier), Arc::clone(&b)),
    );

    // Assert: no lost update
    first.expect("first transaction commits");
    second.expect("second transaction commits");
    assert_eq!(a.load(Ordering::SeqCst) + b.load(Ordering::SeqCst), 3);
    assert_eq!(counter(&pool, 1).await, 2);
}

#[tokio::test]
async fn a_transaction_that_keeps_failing_to_serialize_gives_up_after_max_attempts() {
    // Arrange
    let (_db, pool) = fresh_pool().await;
    let attempts = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&attempts);

    // Act
    let result: Result<()> = transaction(&pool, &fast_policy(3), move |tx| {
        counted.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tx.batch_execute("do $$ begin raise exception 'x' using errcode = '40001'; end $$")
                .await?;
            Ok(())
        })
    })
    .await;

    // Assert
    assert!(
        matches!(result, Err(Error::SerializationFailure)),
        "{result:?}"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}
