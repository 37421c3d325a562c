//! The migration runner: order, idempotence, checksums, failures and concurrent starts.

use std::time::Duration;

use gridstore::Error;
use gridstore::postgres::{Migration, PgConfig, PgPool, migrate};

use crate::support::{fresh_pool, fresh_pool_with};

const HISTORY: &str = "test_migrations";

const CREATE_ACCOUNTS: Migration = Migration {
    version: 1,
    name: "create_accounts",
    sql: "create table accounts (id bigint primary key);
          create table migration_runs (version bigint not null);
          insert into migration_runs values (1);",
};
const ADD_BALANCE: Migration = Migration {
    version: 2,
    name: "add_balance",
    sql: "alter table accounts add column balance numeric(32, 8) not null default 0;
          insert into migration_runs values (2);",
};
const SEED: Migration = Migration {
    version: 10,
    name: "seed",
    sql: "insert into accounts (id, balance) values (1, 5);
          insert into migration_runs values (10);",
};

async fn history(pool: &PgPool) -> Vec<(i64, String, String, i64)> {
    let client = pool.get().await.expect("checkout");
    client
        .query(
            "select version, name, checksum, execution_ms from test_migrations order by version",
            &[],
        )
        .await
        .expect("history query")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect()
}

async fn runs(pool: &PgPool) -> Vec<i64> {
    let client = pool.get().await.expect("checkout");
    client
        .query("select version from migration_runs order by version", &[])
        .await
        .expect("runs query")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn migrations_apply_in_version_order_whatever_the_slice_order() {
    // Arrange
    let (_db, pool) = fresh_pool().await;

    // Act: 10 needs the column of 2, which needs the table of 1
    let applied = migrate(&pool, HISTORY, &[SEED, ADD_BALANCE, CREATE_ACCOUNTS])
        .await
        .expect("migrations apply");

    // Assert
    assert_eq!(applied, vec![1, 2, 10]);
    assert_eq!(runs(&pool).await, vec![1, 2, 10]);
    let history = history(&pool).await;
    let recorded: Vec<_> = history
        .iter()
        .map(|(version, name, checksum, ms)| (*version, name.as_str(), checksum.clone(), *ms >= 0))
        .collect();
    assert_eq!(
        recorded,
        vec![
            (1, "create_accounts", CREATE_ACCOUNTS.checksum(), true),
            (2, "add_balance", ADD_BALANCE.checksum(), true),
            (10, "seed", SEED.checksum(), true),
        ]
    );
    assert_eq!(CREATE_ACCOUNTS.checksum().len(), 64);
}

#[tokio::test]
async fn migrating_again_applies_only_what_is_new() {
    let (_db, pool) = fresh_pool().await;
    migrate(&pool, HISTORY, &[CREATE_ACCOUNTS])
        .await
        .expect("first run");

    let again = migrate(&pool, HISTORY, &[CREATE_ACCOUNTS])
        .await
        .expect("second run");
    let extended = migrate(&pool, HISTORY, &[CREATE_ACCOUNTS, ADD_BALANCE])
        .await
        .expect("third run");

    assert!(again.is_empty());
    assert_eq!(extended, vec![2]);
    assert_eq!(runs(&pool).await, vec![1, 2]);
}

#[tokio::test]
async fn an_edited_migration_is_reported_as_a_checksum_mismatch() {
    // Arrange
    let (_db, pool) = fresh_pool().await;
    migrate(&pool, HISTORY, &[CREATE_ACCOUNTS])
        .await
        .expect("first run");
    let edited = Migration {
        sql: "create table accounts (id bigint primary key, extra text);",
        ..CREATE_ACCOUNTS
    };

    // Act
    let err = migrate(&pool, HISTORY, &[edited, ADD_BALANCE])
        .await
        .expect_err("checksum mismatch");

    // Assert: reported with its version, and nothing after it ran
    assert!(
        matches!(&err, Error::Migration { version: 1, message, .. } if message.contains("checksum")),
        "{err:?}"
    );
    assert_eq!(runs(&pool).await, vec![1]);
}

#[tokio::test]
async fn a_failing_migration_is_rolled_back_and_keeps_earlier_ones() {
    // Arrange
    let (_db, pool) = fresh_pool().await;
    let broken = Migration {
        version: 3,
        name: "broken",
        sql: "insert into migration_runs values (3); select * from no_such_table;",
    };

    // Act
    let err = migrate(&pool, HISTORY, &[CREATE_ACCOUNTS, broken])
        .await
        .expect_err("migration 3 fails");

    // Assert
    assert!(
        matches!(&err, Error::Migration { version: 3, name, message } if name == "broken" && message.contains("no_such_table")),
        "{err:?}"
    );
    assert_eq!(runs(&pool).await, vec![1]);
    assert_eq!(history(&pool).await.len(), 1);
}

#[tokio::test]
async fn four_concurrent_runs_apply_each_migration_exactly_once() {
    // Arrange: four instances starting at once, each with its own pool
    let (db, pool) = fresh_pool().await;
    let mut pools = vec![pool];
    for _ in 0..3 {
        let config = PgConfig::from_url(db.url()).expect("url");
        pools.push(PgPool::connect(&config).await.expect("pool"));
    }
    let all = [CREATE_ACCOUNTS, ADD_BALANCE, SEED];

    // Act
    let results =
        futures_util::future::join_all(pools.iter().map(|pool| migrate(pool, HISTORY, &all))).await;

    // Assert
    let mut applied: Vec<i64> = results
        .into_iter()
        .flat_map(|result| result.expect("every run succeeds"))
        .collect();
    applied.sort_unstable();
    assert_eq!(applied, vec![1, 2, 10]);
    assert_eq!(runs(&pools[0]).await, vec![1, 2, 10]);
}

#[tokio::test]
async fn two_crates_keep_separate_histories() {
    let (_db, pool) = fresh_pool().await;
    let other = Migration {
        version: 1,
        name: "other_crate",
        sql: "create table other_things (id bigint);",
    };

    migrate(&pool, HISTORY, &[CREATE_ACCOUNTS])
        .await
        .expect("first crate");
    let applied = migrate(&pool, "other_migrations", &[other])
        .await
        .expect("second crate");

    assert_eq!(applied, vec![1]);
    assert_eq!(history(&pool).await.len(), 1);
}

#[tokio::test]
async fn a_table_name_that_is_not_a_plain_identifier_is_rejected() {
    let (_db, pool) = fresh_pool().await;

    let err = migrate(&pool, "x; drop table y", &[CREATE_ACCOUNTS])
        .await
        .expect_err("rejected");

    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
}

#[tokio::test]
async fn migrations_may_outlast_the_statement_timeout_which_is_restored_afterwards() {
    // Arrange
    let (_db, pool) = fresh_pool_with(|config| {
        config
            .with_pool_max_size(1)
            .with_statement_timeout(Some(Duration::from_millis(100)))
    })
    .await;
    let slow = Migration {
        version: 1,
        name: "slow",
        sql: "select pg_sleep(0.3)",
    };

    // Act
    let applied = migrate(&pool, HISTORY, &[slow])
        .await
        .expect("slow migration runs");

    // Assert: the one pooled connection is back at its configured timeout
    assert_eq!(applied, vec![1]);
    let timeout: String = pool
        .get()
        .await
        .expect("checkout")
        .query_one("select current_setting('statement_timeout')", &[])
        .await
        .expect("setting")
        .get(0);
    assert_eq!(timeout, "100ms");
}
