//! The listener's connection: one LISTEN session at a time, reconnected with backoff, which
//! forwards notifications, pings the server and sends this process's announcements.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::MissedTickBehavior;
use tokio_postgres::AsyncMessage;

use super::{
    ANNOUNCE, BACKEND_PID, ChannelNotice, EVENTS_CHANNEL, ListenerOptions, MAX_BACKOFF,
    MIN_BACKOFF, PING, Shared,
};
use crate::Result;
use crate::postgres::PgTls;

/// Why a statement on the listener's connection did not go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Failed,
    TimedOut,
}

/// A notification as the connection task forwards it.
struct Heard {
    channel: String,
    /// The server process that sent it.
    sender: i32,
    payload: String,
}

/// A live LISTEN session: the client (kept alive, pinged, and announcing) and the stream of
/// notifications.
pub(super) struct Session {
    client: tokio_postgres::Client,
    /// This session's server process id: its own announcements come back from it.
    pid: i32,
    notifications: mpsc::UnboundedReceiver<Heard>,
    /// The task driving the socket, aborted with the session: a silently dead connection
    /// would otherwise keep its task and socket forever.
    connection: AbortHandle,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl Session {
    /// Forwards notifications and sends announcements until the connection ends or a ping or an
    /// announcement fails or times out.
    async fn serve(&mut self, options: ListenerOptions, shared: &Shared) {
        let mut ping = tokio::time::interval_at(
            tokio::time::Instant::now() + options.ping_interval,
            options.ping_interval,
        );
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // An announcement waits until `announce_interval` has passed since the last one sent;
        // those made meanwhile fold into it.
        let mut pending = false;
        let next_announcement = tokio::time::sleep(std::time::Duration::ZERO);
        tokio::pin!(next_announcement);
        loop {
            tokio::select! {
                notification = self.notifications.recv() => match notification {
                    // Our own announcement: its subscribers were woken when it was made.
                    Some(heard) if heard.channel == EVENTS_CHANNEL && heard.sender == self.pid => {}
                    Some(heard) if heard.channel == EVENTS_CHANNEL => {
                        metrics::counter!("gridstore_listener_notifications_total").increment(1);
                        shared.bump();
                    }
                    Some(Heard { channel, payload, .. }) => {
                        // No receiver: nobody to tell.
                        let _ = shared
                            .notices
                            .send(ChannelNotice::Notification { channel, payload });
                    }
                    None => return,
                },
                () = shared.announce.notified(), if !pending => pending = true,
                () = &mut next_announcement, if pending => {
                    pending = false;
                    next_announcement
                        .as_mut()
                        .reset(tokio::time::Instant::now() + options.announce_interval);
                    // Announcements made from now on are folded into the next one.
                    if self.send(ANNOUNCE, "announcement", options).await.is_err() {
                        // Not sent: keep it for the next connection.
                        shared.announce.notify_one();
                        return;
                    }
                    metrics::counter!("gridstore_listener_announcements_total").increment(1);
                }
                _ = ping.tick() => {
                    if let Err(failure) = self.send(PING, "ping", options).await {
                        if failure == Failure::TimedOut {
                            metrics::counter!("gridstore_listener_ping_timeouts_total")
                                .increment(1);
                        }
                        return;
                    }
                }
            }
        }
    }

    /// Runs `statement` within the ping timeout; the failure is logged.
    async fn send(
        &self,
        statement: &str,
        what: &'static str,
        options: ListenerOptions,
    ) -> std::result::Result<(), Failure> {
        let answered =
            tokio::time::timeout(options.ping_timeout, self.client.batch_execute(statement)).await;
        match answered {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, what, "event listener statement failed");
                Err(Failure::Failed)
            }
            Err(_) => {
                tracing::warn!(
                    timeout_ms = options.ping_timeout.as_millis(),
                    what,
                    "event listener statement timed out"
                );
                Err(Failure::TimedOut)
            }
        }
    }
}

/// Connects, listens and records the backend pid; a `reconnect` is counted before the new
/// connection is published as connected, so whoever sees it connected sees it counted.
pub(super) async fn connect(
    config: &tokio_postgres::Config,
    tls: &PgTls,
    shared: &Shared,
    reconnect: bool,
) -> Result<Session> {
    let (client, mut connection) = config.connect(tls.clone()).await?;
    let (tx, notifications) = mpsc::unbounded_channel();
    let connection = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    let heard = Heard {
                        channel: n.channel().to_owned(),
                        sender: n.process_id(),
                        payload: n.payload().to_owned(),
                    };
                    if tx.send(heard).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "event listener connection failed");
                    return;
                }
            }
        }
    })
    .abort_handle();
    // Dropped on an early return below: that aborts the connection task too.
    let mut session = Session {
        client,
        pid: 0,
        notifications,
        connection,
    };
    let client = &session.client;
    client.batch_execute(&shared.listen).await?;
    let pid: i32 = client.query_one(BACKEND_PID, &[]).await?.try_get(0)?;
    session.pid = pid;
    if reconnect {
        shared.reconnects.fetch_add(1, Ordering::AcqRel);
        metrics::counter!("gridstore_listener_reconnects_total").increment(1);
    }
    shared.backend_pid.store(pid, Ordering::Release);
    shared.connected.store(true, Ordering::Release);
    // Anything committed while we were not listening has lost its notification: wake everyone.
    shared.reset();
    tracing::debug!(backend_pid = pid, "event listener connected");
    Ok(session)
}

/// Forwards notifications; reconnects with backoff whenever the connection ends or its ping
/// fails.
pub(super) async fn run(
    config: tokio_postgres::Config,
    tls: PgTls,
    options: ListenerOptions,
    shared: Arc<Shared>,
    first: Session,
) {
    let mut session = Some(first);
    let mut backoff = MIN_BACKOFF;
    loop {
        if let Some(mut live) = session.take() {
            live.serve(options, &shared).await;
            drop(live);
            shared.connected.store(false, Ordering::Release);
            shared.reset();
            tracing::warn!("event listener disconnected; reconnecting");
            backoff = MIN_BACKOFF;
        }
        tokio::time::sleep(backoff).await;
        match connect(&config, &tls, &shared, true).await {
            Ok(live) => {
                session = Some(live);
            }
            Err(err) => {
                tracing::warn!(error = %err, backoff_ms = backoff.as_millis(), "event listener reconnect failed");
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
