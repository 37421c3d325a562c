//! Application channels on the listener's connection: their notifications reach
//! `PgListener::notices` with their payloads (the event log's own do not), and a lost
//! connection is announced by resets (at the disconnect and again at the reconnect).

use std::time::Duration;

use gridstore::EventLog;
use gridstore::postgres::{ChannelNotice, ListenerOptions, PgEventLog, PgListener};
use tokio::sync::broadcast;

use super::{event, fixture};

async fn next(notices: &mut broadcast::Receiver<ChannelNotice>) -> ChannelNotice {
    tokio::time::timeout(Duration::from_secs(10), notices.recv())
        .await
        .expect("a notice within 10 s")
        .expect("the listener is alive")
}

fn notification(payload: &str) -> ChannelNotice {
    ChannelNotice::Notification {
        channel: "app_keys".to_owned(),
        payload: payload.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_channel_notices_carry_their_payloads_and_a_lost_connection_resets() {
    // Arrange
    let f = fixture().await;
    let listener =
        PgListener::start_with_channels(&f.config, ListenerOptions::default(), &["app_keys"])
            .await
            .expect("listener");
    assert!(listener.listens_on("app_keys"));
    assert!(!listener.listens_on("other"));
    let mut notices = listener.notices();
    let admin = f.pool.get().await.expect("admin");
    let log = PgEventLog::new(f.pool.clone());

    // Act + Assert: an event-log append is no notice.
    log.append(vec![event("s", 0)]).await.expect("append");
    admin
        .execute("select pg_notify('app_keys', 'k1')", &[])
        .await
        .expect("notify");
    assert_eq!(next(&mut notices).await, notification("k1"));

    let pid = listener.backend_pid().expect("pid");
    admin
        .execute("select pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate");
    assert_eq!(
        next(&mut notices).await,
        ChannelNotice::Reset,
        "at the disconnect"
    );
    assert_eq!(
        next(&mut notices).await,
        ChannelNotice::Reset,
        "at the reconnect"
    );
    admin
        .execute("select pg_notify('app_keys', 'k2')", &[])
        .await
        .expect("notify");
    assert_eq!(next(&mut notices).await, notification("k2"), "heard again");
}

#[tokio::test]
async fn a_channel_that_is_not_a_plain_lowercase_name_is_refused() {
    let f = fixture().await;
    let options = ListenerOptions::default();
    for bad in ["gs_events", "Keys", "a; drop table t", ""] {
        let refused = PgListener::start_with_channels(&f.config, options, &[bad]).await;
        assert!(
            matches!(refused, Err(gridstore::Error::Config(_))),
            "{bad:?}"
        );
    }
}
