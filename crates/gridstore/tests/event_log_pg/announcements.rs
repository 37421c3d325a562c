//! Announcements to other processes are paced: the first goes out at once, those made within
//! `ListenerOptions::announce_interval` of it fold into one that follows when the interval has
//! passed, and none is lost.

use std::time::Duration;

use futures_util::StreamExt;
use gridstore::postgres::{ListenerOptions, PgListener};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use super::fixture;

/// The payloads of `gs_events` notifications heard by a plain session, in commit order.
async fn eavesdrop(url: &str) -> (tokio_postgres::Client, mpsc::UnboundedReceiver<String>) {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    let (heard, payloads) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = heard.send(n.payload().to_owned());
            }
        }
    });
    client
        .batch_execute("listen gs_events")
        .await
        .expect("listen");
    (client, payloads)
}

async fn next(payloads: &mut mpsc::UnboundedReceiver<String>, what: &str) -> String {
    tokio::time::timeout(Duration::from_secs(10), payloads.recv())
        .await
        .unwrap_or_else(|_| panic!("{what} within 10 s"))
        .expect("the eavesdropper is alive")
}

/// A writer listener announcing at most once per `interval`, its first announcement already
/// heard by the eavesdropper, then a burst of twenty more.
async fn after_a_burst(interval: Duration) -> (super::Fixture, PgListener, Eavesdropper) {
    let f = fixture().await;
    let (client, mut heard) = eavesdrop(f.db.url()).await;
    let options = ListenerOptions {
        announce_interval: interval,
        ..ListenerOptions::default()
    };
    let writer = PgListener::start_with(&f.config, options)
        .await
        .expect("writer listener");
    writer.announce();
    assert_eq!(next(&mut heard, "the first announcement").await, "");
    for _ in 0..20 {
        writer.announce();
        tokio::task::yield_now().await;
    }
    (f, writer, (client, heard))
}

type Eavesdropper = (tokio_postgres::Client, mpsc::UnboundedReceiver<String>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_announcements_within_the_interval_sends_nothing_yet() {
    // Arrange + Act
    let (_f, _writer, (other, mut heard)) = after_a_burst(Duration::from_secs(60)).await;
    // Time for a writer that does not pace its announcements to send the next one (so that
    // this test fails without pacing); a pacing writer sends nothing for 60 s, so the pass
    // does not depend on this wait.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Assert: notifications arrive in commit order, so a fence sent now arrives before
    // anything the writer sends later.
    other
        .batch_execute("notify gs_events, 'fence'")
        .await
        .expect("fence");
    assert_eq!(
        next(&mut heard, "the fence").await,
        "fence",
        "the burst waits for the interval"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_announcements_is_sent_as_one_once_the_interval_has_passed() {
    let (_f, _writer, (_other, mut heard)) = after_a_burst(Duration::from_millis(300)).await;
    assert_eq!(next(&mut heard, "the folded announcement").await, "");
}
