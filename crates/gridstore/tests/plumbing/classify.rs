//! SQLSTATE classification, provoked for real wherever the server can be made to do it.

use std::time::Duration;

use gridstore::postgres::{PgPool, classify};
use gridstore::{Error, Retryable};
use tokio_postgres::IsolationLevel;

use crate::schema::create_schema;
use crate::support::{backend_pid, fresh_pool, fresh_pool_with, terminate_backend};

const SCHEMA: &str = "
    create table parents (id bigint primary key);
    create table children (
        id bigint primary key,
        parent_id bigint constraint children_parent_fk references parents (id),
        name text not null,
        qty int constraint children_qty_positive check (qty > 0)
    );
    create table counters (id bigint primary key, n bigint not null);
    insert into parents values (1);
    insert into counters values (1, 0), (2, 0);";

async fn pool_with_schema() -> (testkit::TestDatabase, PgPool) {
    let (db, pool) = fresh_pool().await;
    create_schema(&pool, SCHEMA).await;
    (db, pool)
}

/// Runs `sql` on a fresh pooled connection and returns its classified error.
async fn error_of(pool: &PgPool, sql: &str) -> Error {
    let client = pool.get().await.expect("checkout");
    let err = client
        .batch_execute(sql)
        .await
        .expect_err("statement fails");
    classify(err)
}

#[tokio::test]
async fn constraint_violations_carry_their_constraint_or_column() {
    let (_db, pool) = pool_with_schema().await;

    let unique = error_of(&pool, "insert into parents values (1)").await;
    let foreign = error_of(&pool, "insert into children values (1, 99, 'a', 1)").await;
    let check = error_of(&pool, "insert into children values (1, 1, 'a', 0)").await;
    let not_null = error_of(&pool, "insert into children values (1, 1, null, 1)").await;

    assert!(
        matches!(&unique, Error::UniqueViolation { constraint } if constraint == "parents_pkey"),
        "{unique:?}"
    );
    assert!(
        matches!(&foreign, Error::ForeignKeyViolation { constraint } if constraint == "children_parent_fk"),
        "{foreign:?}"
    );
    assert!(
        matches!(&check, Error::CheckViolation { constraint } if constraint == "children_qty_positive"),
        "{check:?}"
    );
    assert!(
        matches!(&not_null, Error::NotNullViolation { column } if column == "name"),
        "{not_null:?}"
    );
    assert!(
        ![unique, foreign, check, not_null]
            .iter()
            .any(Retryable::is_retryable)
    );
}

#[tokio::test]
async fn gridstore_version_conflicts_raised_by_the_database_carry_their_detail() {
    let (_db, pool) = fresh_pool().await;

    let conflict = error_of(
        &pool,
        r#"do $$ begin raise exception 'version conflict' using errcode = 'GS409',
           detail = '{"key": "s-1", "expected": 3, "actual": null}'; end $$"#,
    )
    .await;
    let garbled = error_of(
        &pool,
        "do $$ begin raise exception 'version conflict' using errcode = 'GS409',
           detail = 'not json'; end $$",
    )
    .await;

    assert!(
        matches!(&conflict, Error::VersionConflict { key, expected: 3, actual: None } if key == "s-1"),
        "{conflict:?}"
    );
    assert!(!conflict.is_retryable());
    assert!(
        matches!(&garbled, Error::Database { code, .. } if code == "GS409"),
        "{garbled:?}"
    );
}

#[tokio::test]
async fn two_serializable_transactions_updating_one_row_fail_to_serialize() {
    // Arrange: the loser takes its snapshot before the winner commits
    let (_db, pool) = pool_with_schema().await;
    let mut loser_client = pool.get().await.expect("checkout");
    let loser = loser_client
        .build_transaction()
        .isolation_level(IsolationLevel::Serializable)
        .start()
        .await
        .expect("begin");
    loser
        .query_one("select n from counters where id = 1", &[])
        .await
        .expect("snapshot");
    let mut winner_client = pool.get().await.expect("checkout");
    let winner = winner_client
        .build_transaction()
        .isolation_level(IsolationLevel::Serializable)
        .start()
        .await
        .expect("begin");
    winner
        .execute("update counters set n = n + 1 where id = 1", &[])
        .await
        .expect("winner updates");
    winner.commit().await.expect("winner commits");

    // Act
    let err = loser
        .execute("update counters set n = n + 1 where id = 1", &[])
        .await
        .expect_err("loser cannot serialize");

    // Assert
    let err = classify(err);
    assert!(matches!(err, Error::SerializationFailure), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn two_transactions_locking_rows_in_opposite_order_deadlock() {
    // Arrange: each holds one row lock
    let (_db, pool) = pool_with_schema().await;
    let mut first_client = pool.get().await.expect("checkout");
    let mut second_client = pool.get().await.expect("checkout");
    let first = first_client.transaction().await.expect("begin");
    let second = second_client.transaction().await.expect("begin");
    let lock = "update counters set n = n + 1 where id = $1";
    first.execute(lock, &[&1_i64]).await.expect("first locks 1");
    second
        .execute(lock, &[&2_i64])
        .await
        .expect("second locks 2");

    // Act: each now waits for the other's row
    let (a, b) = tokio::join!(
        first.execute(lock, &[&2_i64]),
        second.execute(lock, &[&1_i64])
    );

    // Assert: exactly one is chosen as the victim
    let errors: Vec<Error> = [a, b]
        .into_iter()
        .filter_map(Result::err)
        .map(classify)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(matches!(errors[0], Error::Deadlock), "{errors:?}");
    assert!(errors[0].is_retryable());
}

#[tokio::test]
async fn a_statement_past_its_timeout_is_a_statement_timeout() {
    let (_db, pool) =
        fresh_pool_with(|config| config.with_statement_timeout(Some(Duration::from_millis(100))))
            .await;

    let err = error_of(&pool, "select pg_sleep(10)").await;

    assert!(matches!(err, Error::StatementTimeout), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_terminated_connection_is_a_retryable_connection_error() {
    // Arrange
    let (_db, pool) = fresh_pool().await;
    let victim = pool.get().await.expect("checkout");
    terminate_backend(&pool, backend_pid(&victim).await).await;

    // Act
    let err = classify(
        victim
            .simple_query("select 1")
            .await
            .expect_err("connection is gone"),
    );

    // Assert
    assert!(
        matches!(err, Error::Connection(_) | Error::Shutdown(_)),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn raised_sqlstates_map_to_their_variants() {
    let (_db, pool) = fresh_pool().await;
    let raise =
        |code: &str| format!("do $$ begin raise exception 'x' using errcode = '{code}'; end $$");

    for (code, expected) in [
        ("40001", "SerializationFailure"),
        ("40P01", "Deadlock"),
        ("57014", "StatementTimeout"),
        ("55P03", "LockTimeout"),
        ("57P01", "Shutdown"),
        ("57P02", "Shutdown"),
        ("57P03", "Shutdown"),
        ("08006", "Connection"),
        ("08001", "Connection"),
        ("57P05", "Connection"),
        ("25P03", "Connection"),
        ("53300", "Connection"),
        ("22012", "Database"),
    ] {
        let err = error_of(&pool, &raise(code)).await;
        let variant = format!("{err:?}");
        assert!(variant.starts_with(expected), "{code}: {variant}");
        if let Error::Database { code: reported, .. } = &err {
            assert_eq!(reported, code);
        }
    }
}

#[tokio::test]
async fn other_sqlstates_keep_their_code_and_source() {
    let (_db, pool) = fresh_pool().await;

    let err = error_of(&pool, "select 1 / 0").await;

    let Error::Database { code, source } = &err else {
        panic!("expected Database, got {err:?}");
    };
    assert_eq!(code, "22012");
    let driver = source
        .downcast_ref::<tokio_postgres::Error>()
        .expect("source is the driver error");
    assert_eq!(
        driver.code(),
        Some(&tokio_postgres::error::SqlState::DIVISION_BY_ZERO)
    );
    assert!(!err.is_retryable());
}
