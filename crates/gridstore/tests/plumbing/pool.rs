//! `PgPool`: checkout, status, timeouts, expiry, closing, and surviving a server restart.

use std::time::Duration;

use gridstore::postgres::{PgConfig, PgPool};
use gridstore::{Error, Retryable};
use testkit::TestPostgres;

use crate::support::{backend_pid, fresh_pool_with, terminate_backend, wait_until};

#[tokio::test]
async fn connect_opens_min_idle_connections_and_ping_answers() {
    let (_db, pool) =
        fresh_pool_with(|config| config.with_pool_max_size(4).with_pool_min_idle(3)).await;

    pool.ping().await.expect("ping");
    let status = pool.status();

    assert_eq!(status.max_size, 4);
    assert_eq!(status.size, 3);
    assert_eq!(status.available, 3);
    assert_eq!(status.waiting, 0);
}

#[tokio::test]
async fn checkout_times_out_when_every_connection_is_busy() {
    // Arrange
    let (_db, pool) = fresh_pool_with(|config| {
        config
            .with_pool_max_size(1)
            .with_wait_timeout(Duration::from_millis(100))
    })
    .await;
    let _busy = pool.get().await.expect("only connection");

    // Act
    let err = pool.get().await.expect_err("no connection is free");

    // Assert
    assert!(matches!(err, Error::PoolTimeout), "{err:?}");
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let (_db, pool) =
        fresh_pool_with(|config| config.with_idle_timeout(Some(Duration::from_millis(200)))).await;
    pool.ping().await.expect("ping");

    wait_until("the idle connection is closed", || async {
        pool.status().size == 0
    })
    .await;
    pool.ping()
        .await
        .expect("a new connection is opened on demand");
}

#[tokio::test]
async fn connections_are_replaced_after_their_max_lifetime() {
    let (_db, pool) =
        fresh_pool_with(|config| config.with_max_lifetime(Some(Duration::from_millis(200)))).await;
    let first_pid = backend_pid(&pool.get().await.expect("checkout")).await;

    wait_until("a checkout gets a new connection", || async {
        let client = pool.get().await.expect("checkout");
        backend_pid(&client).await != first_pid
    })
    .await;
}

#[tokio::test]
async fn a_broken_idle_connection_is_replaced_on_checkout() {
    // Arrange: one of the two pooled connections is killed, then returned to the pool
    let (_db, pool) = fresh_pool_with(|config| config.with_pool_max_size(2)).await;
    let victim = pool.get().await.expect("checkout");
    let pid = backend_pid(&victim).await;
    terminate_backend(&pool, pid).await;
    drop(victim);

    // Act: both connections are needed at once
    let first = pool.get().await.expect("first checkout");
    let second = pool.get().await.expect("second checkout");

    // Assert
    for client in [&first, &second] {
        assert_ne!(backend_pid(client).await, pid);
    }
}

#[tokio::test]
async fn a_closed_pool_refuses_checkouts() {
    let (_db, pool) = fresh_pool_with(|config| config).await;

    pool.close();
    let err = pool.get().await.expect_err("pool is closed");

    assert!(matches!(err, Error::Connection(_)), "{err:?}");
}

#[tokio::test]
async fn connecting_to_a_port_nobody_listens_on_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let config = PgConfig::new()
        .with_host("127.0.0.1")
        .with_port(port)
        .with_connect_timeout(Duration::from_secs(2));

    let err = PgPool::connect(&config).await.expect_err("nothing listens");

    assert!(matches!(err, Error::Connection(_)), "{err:?}");
}

#[tokio::test]
async fn the_pool_recovers_after_the_server_is_killed_and_restarted() {
    // Arrange: a private server, so killing it disturbs no other test
    let mut server = TestPostgres::start().expect("private server starts");
    let db = server.create_database().await;
    let config = PgConfig::from_url(db.url())
        .expect("url")
        .with_connect_timeout(Duration::from_secs(1))
        .with_wait_timeout(Duration::from_secs(2));
    let pool = PgPool::connect(&config).await.expect("pool");
    pool.ping().await.expect("ping before the crash");

    // Act
    server.kill();
    let during = pool.ping().await.expect_err("server is down");
    server.restart();

    // Assert
    assert!(during.is_retryable(), "{during:?}");
    wait_until("the pool reaches the restarted server", || async {
        pool.ping().await.is_ok()
    })
    .await;
}
