//! `PgTransaction`: `BEGIN` and `COMMIT` share flights with statements, a failed write commits
//! nothing, and a dropped guard never hands its connection back inside a transaction.

use std::time::Duration;

use gridstore::postgres::{PgConfig, PgPool, PgStatement, PgTransaction, PgWrite};
use gridstore::{Error, Retryable};
use testkit::{TestDatabase, WireProxy};

use crate::support::{backend_pid, direct_connection, wait_until};

const SCHEMA: &str = "create table items (id bigint primary key, note text not null)";
const INSERT: &str = "insert into items (id, note) values ($1, $2)";
const COUNT: &str = "select count(*) from items";

/// A fresh database with `items`, and a pool of one connection on it (through `proxy` when
/// given, and never verified on checkout so that only the transaction's flights are counted).
async fn one_connection(proxy: bool) -> (TestDatabase, PgPool, Option<WireProxy>) {
    let db = testkit::database().await;
    direct_connection(db.url())
        .await
        .batch_execute(SCHEMA)
        .await
        .expect("schema");
    let mut config = PgConfig::from_url(db.url())
        .expect("testkit url parses")
        .with_pool_max_size(1)
        .with_verify_after_idle(Duration::from_secs(3600));
    let wire = if proxy {
        let wire = WireProxy::start(config.port()).await.expect("proxy");
        config = config.with_host(wire.host()).with_port(wire.port());
        Some(wire)
    } else {
        None
    };
    let pool = PgPool::connect(&config).await.expect("pool connects");
    (db, pool, wire)
}

async fn count(pool: &PgPool) -> i64 {
    let client = pool.get().await.expect("checkout");
    client.query_one(COUNT, &[]).await.expect("count").get(0)
}

/// Whether the next checkout of `pool` is outside any transaction block: `SAVEPOINT` fails
/// there (25P01) and succeeds inside one.
async fn next_checkout_is_outside_a_transaction(pool: &PgPool) -> bool {
    let client = pool.get().await.expect("checkout");
    client.batch_execute("savepoint probe").await.is_err()
}

/// A transaction on `client` whose `BEGIN` has been answered.
async fn begun(client: gridstore::postgres::PgClient) -> PgTransaction {
    let tx = PgTransaction::new(client);
    tx.begin_with(async { Ok::<_, Error>(()) })
        .await
        .expect("begin");
    tx
}

/// A write of `(id, note)` with `statement`.
fn insert<'a>(tx: &'a PgTransaction, statement: &'a PgStatement, id: &'a i64) -> PgWrite<'a> {
    Box::pin(async move { Ok(statement.execute(tx, &[id, &"note"]).await?) })
}

/// The two statements of these tests, prepared (and cached) on the pool's one connection.
async fn prepared(pool: &PgPool) -> (PgStatement, PgStatement) {
    let tx = PgTransaction::new(pool.get().await.expect("checkout"));
    let select = pool.prepare(&tx, COUNT).await.expect("prepare count");
    let insert = pool.prepare(&tx, INSERT).await.expect("prepare insert");
    (select, insert)
}

/// The pool's one connection through the counting proxy, its insert prepared (so that no
/// prepare needs a flight of its own), as a transaction guard.
async fn on_a_warm_proxied_connection()
-> (TestDatabase, PgPool, WireProxy, PgStatement, PgTransaction) {
    let (db, pool, wire) = one_connection(true).await;
    let (_, statement) = prepared(&pool).await;
    let tx = PgTransaction::new(pool.get().await.expect("checkout"));
    (db, pool, wire.expect("proxied"), statement, tx)
}

/// The pool's one connection (its insert prepared) as a transaction guard, with its backend
/// terminated: nothing sent on it gets an answer.
async fn on_a_dead_connection() -> (TestDatabase, PgPool, PgStatement, PgTransaction) {
    let (db, pool, _) = one_connection(false).await;
    let (_, statement) = prepared(&pool).await;
    let client = pool.get().await.expect("checkout");
    let pid = backend_pid(&client).await;
    let killed: bool = direct_connection(db.url())
        .await
        .query_one("select pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate")
        .get(0);
    assert!(killed);
    (db, pool, statement, PgTransaction::new(client))
}

#[tokio::test]
async fn begin_travels_with_the_reads_and_commit_with_the_writes() {
    // Arrange: statements cached, so that no prepare needs a flight of its own.
    let (_db, pool, wire) = one_connection(true).await;
    let wire = wire.expect("proxied");
    let (select, statement) = prepared(&pool).await;
    let tx = PgTransaction::new(pool.get().await.expect("checkout"));
    let before = wire.counts();

    // Act
    let row = tx
        .begin_with(async { Ok::<_, Error>(select.query_one(&tx, &[]).await?) })
        .await
        .expect("begin and read");
    let after_begin = wire.counts();
    let rows = tx
        .commit_with(vec![
            insert(&tx, &statement, &1),
            insert(&tx, &statement, &2),
        ])
        .await
        .expect("writes and commit");
    let after_commit = wire.counts();
    drop(tx);

    // Assert
    assert_eq!(row.get::<_, i64>(0), 0);
    assert_eq!(rows, vec![1, 1]);
    assert_eq!((after_begin - before).flights, 1, "BEGIN and the read");
    assert_eq!(
        (after_commit - after_begin).flights,
        1,
        "two writes and COMMIT"
    );
    assert_eq!(count(&pool).await, 2, "committed");
}

#[tokio::test]
async fn a_write_failing_on_the_server_commits_nothing_of_its_flight() {
    // Arrange
    let (_db, pool, _) = one_connection(false).await;
    let (_, statement) = prepared(&pool).await;
    let tx = begun(pool.get().await.expect("checkout")).await;

    // Act: the second write repeats the first one's key, the third would succeed.
    let result = tx
        .commit_with(vec![
            insert(&tx, &statement, &1),
            insert(&tx, &statement, &1),
            insert(&tx, &statement, &2),
        ])
        .await;
    drop(tx);

    // Assert: the first error wins, and the COMMIT behind it rolled everything back.
    assert!(
        matches!(&result, Err(Error::UniqueViolation { constraint }) if constraint == "items_pkey"),
        "{result:?}"
    );
    assert_eq!(count(&pool).await, 0, "nothing committed");
    assert!(next_checkout_is_outside_a_transaction(&pool).await);
}

#[tokio::test]
async fn a_write_failing_before_it_is_sent_sends_no_commit() {
    // Arrange
    let (_db, pool, _) = one_connection(false).await;
    let (_, statement) = prepared(&pool).await;
    let tx = begun(pool.get().await.expect("checkout")).await;

    // Act: the first write goes out, the second fails on its first poll (as an invalid event
    // batch or a parameter that cannot be encoded would).
    let refused: PgWrite<'_> =
        Box::pin(async { Err(Error::InvalidInput("refused before sending".to_owned())) });
    let result = tx
        .commit_with(vec![insert(&tx, &statement, &1), refused])
        .await;
    drop(tx);

    // Assert
    assert!(matches!(&result, Err(Error::InvalidInput(_))), "{result:?}");
    assert_eq!(count(&pool).await, 0, "the sent write was rolled back");
    assert!(next_checkout_is_outside_a_transaction(&pool).await);
}

#[tokio::test]
async fn a_guard_dropped_after_an_insert_rolls_back_before_its_connection_is_reused() {
    // Arrange: a pool of one connection, so the next checkout is the same connection.
    let (_db, pool, _) = one_connection(false).await;
    let (_, statement) = prepared(&pool).await;
    let tx = PgTransaction::new(pool.get().await.expect("checkout"));
    let inserted = tx
        .begin_with(async { Ok::<_, Error>(statement.execute(&tx, &[&1_i64, &"dropped"]).await?) })
        .await
        .expect("begin and insert");
    assert_eq!(inserted, 1);

    // Act: the handler's future is dropped before it commits.
    drop(tx);

    // Assert
    assert!(next_checkout_is_outside_a_transaction(&pool).await);
    assert_eq!(count(&pool).await, 0, "the insert was rolled back");
}

#[tokio::test]
async fn a_transaction_cancelled_mid_flight_leaves_no_open_transaction() {
    // Arrange
    let (_db, pool, _) = one_connection(false).await;
    let (_, statement) = prepared(&pool).await;
    let tx = PgTransaction::new(pool.get().await.expect("checkout"));
    let sleep = pool
        .prepare(&tx, "select pg_sleep(0.3)")
        .await
        .expect("prepare sleep");

    // Act: a timeout drops the first flight (`BEGIN`, an insert, a slow read) while the
    // server is still answering it, as a request cut off by its client would.
    let flight = tx.begin_with(async {
        let inserted = statement.execute(&tx, &[&1_i64, &"cancelled"]);
        let slept = sleep.execute(&tx, &[]);
        tokio::try_join!(inserted, slept).map_err(Error::from)
    });
    let timed_out = tokio::time::timeout(Duration::from_millis(20), flight).await;
    drop(tx);

    // Assert
    assert!(timed_out.is_err(), "the flight outlives the timeout");
    assert!(next_checkout_is_outside_a_transaction(&pool).await);
    assert_eq!(count(&pool).await, 0, "the insert was rolled back");
}

#[tokio::test]
async fn a_guard_dropped_before_begin_leaves_its_connection_untouched() {
    let (_db, pool, _) = one_connection(false).await;
    let tx = PgTransaction::new(pool.get().await.expect("checkout"));
    drop(tx);
    assert!(next_checkout_is_outside_a_transaction(&pool).await);
}

#[tokio::test]
async fn a_connection_lost_during_the_commit_flight_is_an_unknown_outcome() {
    // Arrange: a flight that is still running when its backend is terminated.
    let (db, pool, _) = one_connection(false).await;
    let (_, statement) = prepared(&pool).await;
    let client = pool.get().await.expect("checkout");
    let pid = backend_pid(&client).await;
    let tx = begun(client).await;
    let sleep = pool
        .prepare(&tx, "select pg_sleep(30)")
        .await
        .expect("prepare sleep");
    let observer = direct_connection(db.url()).await;

    // Act
    let flight = tx.commit_with(vec![
        insert(&tx, &statement, &1),
        Box::pin(async { Ok(sleep.execute(&tx, &[]).await?) }),
    ]);
    let terminate = async {
        wait_until("the flight is sleeping on the server", || async {
            let row = observer
                .query_one(
                    "select coalesce(wait_event = 'PgSleep', false) from pg_stat_activity \
                     where pid = $1",
                    &[&pid],
                )
                .await
                .expect("pg_stat_activity");
            row.get(0)
        })
        .await;
        let killed: bool = observer
            .query_one("select pg_terminate_backend($1)", &[&pid])
            .await
            .expect("terminate")
            .get(0);
        assert!(killed);
    };
    let (result, ()) = tokio::join!(flight, terminate);

    // Assert
    assert!(
        matches!(&result, Err(Error::CommitOutcomeUnknown(_))),
        "{result:?}"
    );
    assert!(!result.expect_err("failed").is_retryable());
    drop(tx);
    assert_eq!(count(&pool).await, 0, "the server never committed");
}

#[tokio::test]
async fn a_flight_from_begin_to_commit_on_a_lost_connection_is_an_unknown_outcome_never_a_retry() {
    // Arrange: the pool's one connection, whose backend is gone before the flight is sent.
    let (_db, pool, statement, tx) = on_a_dead_connection().await;

    // Act: `BEGIN`'s answer never comes, so only the whole flight can say what happened.
    let result = tx.run_with(vec![insert(&tx, &statement, &1)]).await;

    // Assert: not a lost connection (which callers retry), though here nothing was committed.
    assert!(
        matches!(&result, Err(Error::CommitOutcomeUnknown(_))),
        "{result:?}"
    );
    drop(tx);
    assert_eq!(count(&pool).await, 0);
}

#[tokio::test]
async fn a_flight_from_begin_to_commit_writes_and_commits_in_one_round_trip() {
    // Arrange: statements cached, so that no prepare needs a flight of its own.
    let (_db, pool, wire, statement, tx) = on_a_warm_proxied_connection().await;

    // Act
    let before = wire.counts();
    let rows = tx
        .run_with(vec![
            insert(&tx, &statement, &1),
            insert(&tx, &statement, &2),
        ])
        .await
        .expect("run");
    let flights = (wire.counts() - before).flights;

    // Assert
    assert_eq!(rows, vec![1, 1]);
    assert_eq!(flights, 1, "BEGIN, both inserts and COMMIT");
    drop(tx);
    assert_eq!(count(&pool).await, 2);
}

#[tokio::test]
async fn a_statement_run_alone_commits_in_one_message_each_way() {
    // Arrange: statements cached, so that no prepare needs a flight of its own.
    let (_db, pool, wire, statement, tx) = on_a_warm_proxied_connection().await;

    // Act
    let before = wire.counts();
    let rows = tx
        .run_alone(insert(&tx, &statement, &1))
        .await
        .expect("run");
    let sent = wire.counts() - before;

    // Assert: no `BEGIN`, no `COMMIT`; committed, and the connection outside any transaction.
    assert_eq!(rows, 1);
    assert_eq!((sent.flights, sent.round_trips), (1, 1));
    drop(tx);
    assert_eq!(count(&pool).await, 1);
    assert!(next_checkout_is_outside_a_transaction(&pool).await);
}

#[tokio::test]
async fn a_statement_run_alone_on_a_lost_connection_is_an_unknown_outcome_never_a_retry() {
    // Arrange: the pool's one connection, whose backend is gone before the statement is sent.
    let (_db, pool, statement, tx) = on_a_dead_connection().await;

    // Act
    let result = tx.run_alone(insert(&tx, &statement, &1)).await;

    // Assert
    assert!(
        matches!(&result, Err(Error::CommitOutcomeUnknown(_))),
        "{result:?}"
    );
    assert!(!result.expect_err("failed").is_retryable());
    drop(tx);
    assert_eq!(count(&pool).await, 0);
}

#[tokio::test]
async fn a_statement_runs_alone_only_on_a_guard_that_began_nothing() {
    let (_db, pool, _) = one_connection(false).await;
    let (_, statement) = prepared(&pool).await;
    let tx = begun(pool.get().await.expect("checkout")).await;

    let result = tx.run_alone(insert(&tx, &statement, &1)).await;

    assert!(matches!(&result, Err(Error::InvalidInput(_))), "{result:?}");
}
