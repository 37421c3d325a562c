//! A LISTEN connection that goes silent (its server process stopped, the socket still open,
//! so no error ever arrives) is found by the health ping and replaced.
//!
//! On an owned server: a stopped backend never absorbs a ProcSignalBarrier, so on the shared
//! server another test's `drop database` would wait for it (holding back the commit fence of
//! every database meanwhile).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use gridstore::postgres::{ListenerOptions, PgConfig, PgEventLog, PgListener, PgPool, migrations};
use gridstore::{EventFilter, EventLog, Subscription};

use testkit::TestPostgres;

use super::{event, eventually, options};

/// Sends `signal` to a server process (the tests run on the machine of testkit's server).
fn signal(pid: i32, signal: &str) {
    let status = Command::new("sh")
        .args([
            "-c",
            r#"kill -s "$1" "$2""#,
            "kill",
            signal,
            &pid.to_string(),
        ])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -s {signal} {pid} failed");
}

/// Resumes the stopped backend even when the test fails, so the database can be dropped.
struct Stopped(i32);

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silently_dead_listener_connection_is_found_by_the_ping_and_replaced() {
    let server = tokio::task::spawn_blocking(|| TestPostgres::start().expect("start server"))
        .await
        .expect("join");
    let db = server.create_database().await;
    let config = PgConfig::from_url(db.url()).expect("config");
    let pool = PgPool::connect(&config).await.expect("pool");
    migrations::migrate(&pool).await.expect("migrate");
    let ping = ListenerOptions {
        ping_interval: Duration::from_millis(200),
        ping_timeout: Duration::from_millis(500),
        ..ListenerOptions::default()
    };
    let listener = PgListener::start_with(&config, ping)
        .await
        .expect("listener");
    let pid = listener.backend_pid().expect("pid");

    signal(pid, "STOP");
    let _resume = Stopped(pid);
    eventually(10, "the ping to replace the silent connection", || {
        listener.is_connected() && listener.backend_pid().is_some_and(|p| p != pid)
    })
    .await;
    assert!(listener.reconnects() >= 1);

    // A ten-minute poll interval: only a wake-up on the new connection delivers in time. The
    // writer announces as another process would, through a listener of its own.
    let log: Arc<dyn EventLog> = Arc::new(PgEventLog::new(pool.clone()).with_listener(listener));
    let mut sub = Subscription::new(log, None, EventFilter::all(), options(10, 600_000));
    let waiter = tokio::spawn(async move { sub.next_batch().await.map(|b| b.len()) });
    let writer = PgListener::start(&config).await.expect("writer listener");
    let writer = PgEventLog::new(pool.clone()).with_listener(writer);
    writer.append(vec![event("s", 0)]).await.expect("append");
    let n = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("woken within 10 s")
        .expect("join")
        .expect("next batch");
    assert_eq!(n, 1);
}
