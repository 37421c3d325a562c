//! The per-process LISTEN connection that wakes event-log subscribers.
//!
//! One [`PgListener`] holds one dedicated connection (outside the pool: a pooled connection
//! would drop notifications) that runs `listen gs_events` and fans every notification out to
//! all subscribers through a `tokio::sync::watch` counter, so a thousand subscriptions cost one
//! connection (apalis #128 is the counter-example). Start one per process and database, and
//! share it (it is a cheap `Clone` handle) between every [`PgEventLog`](super::PgEventLog).
//!
//! Notifications are hints. When the connection drops (server restart, `pg_terminate_backend`,
//! network), the background task reconnects with exponential backoff (50 ms doubling to 5 s)
//! and bumps the counter on every disconnect and reconnect, so subscribers re-read from their
//! cursors and catch up on anything whose notification was lost. Subscribers poll anyway.
//!
//! The task stops when the last handle is dropped. It runs on the Tokio runtime that called
//! [`PgListener::start`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio_postgres::{AsyncMessage, NoTls};

use super::PgConfig;
use crate::Result;
use crate::event_log::Wakeups;

/// The channel the event log notifies on (see migration 0004).
pub const EVENTS_CHANNEL: &str = "gs_events";

const LISTEN: &str = "listen gs_events";
const BACKEND_PID: &str = "select pg_backend_pid()";
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A shared handle on the LISTEN connection; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct PgListener {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    task: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug)]
struct Shared {
    wake: watch::Sender<u64>,
    backend_pid: AtomicI32,
    connected: AtomicBool,
    reconnects: AtomicU64,
}

impl Shared {
    fn bump(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl PgListener {
    /// Connects, runs `LISTEN`, and keeps the connection alive in a background task.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for an unusable configuration; a classified error when the first
    /// connection fails (later failures are retried in the background).
    pub async fn start(config: &PgConfig) -> Result<Self> {
        let driver_config = config.to_driver_config()?;
        let shared = Arc::new(Shared {
            wake: watch::Sender::new(0),
            backend_pid: AtomicI32::new(0),
            connected: AtomicBool::new(false),
            reconnects: AtomicU64::new(0),
        });
        let first = connect(&driver_config, &shared).await?;
        let task = tokio::spawn(run(driver_config, shared.clone(), first)).abort_handle();
        Ok(Self {
            inner: Arc::new(Inner { shared, task }),
        })
    }

    /// A wake-up signal that changes on every notification, disconnect and reconnect.
    pub fn wakeups(&self) -> Wakeups {
        Wakeups::new(self.inner.shared.wake.subscribe())
    }

    /// The server process id of the current LISTEN connection (`None` while disconnected).
    pub fn backend_pid(&self) -> Option<i32> {
        let pid = self.inner.shared.backend_pid.load(Ordering::Acquire);
        (pid != 0 && self.is_connected()).then_some(pid)
    }

    /// Whether the LISTEN connection is currently up.
    pub fn is_connected(&self) -> bool {
        self.inner.shared.connected.load(Ordering::Acquire)
    }

    /// How many times the connection was re-established.
    pub fn reconnects(&self) -> u64 {
        self.inner.shared.reconnects.load(Ordering::Acquire)
    }
}

/// A live LISTEN session: the client (kept alive) and the stream of notifications.
struct Session {
    _client: tokio_postgres::Client,
    notifications: mpsc::UnboundedReceiver<()>,
}

/// Connects, listens and records the backend pid.
async fn connect(config: &tokio_postgres::Config, shared: &Shared) -> Result<Session> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, notifications) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    if tx.send(()).is_err() {
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
    });
    client.batch_execute(LISTEN).await?;
    let pid: i32 = client.query_one(BACKEND_PID, &[]).await?.try_get(0)?;
    shared.backend_pid.store(pid, Ordering::Release);
    shared.connected.store(true, Ordering::Release);
    // Anything committed while we were not listening has lost its notification: wake everyone.
    shared.bump();
    tracing::debug!(backend_pid = pid, "event listener connected");
    Ok(Session {
        _client: client,
        notifications,
    })
}

/// Forwards notifications; reconnects with backoff whenever the connection ends.
async fn run(config: tokio_postgres::Config, shared: Arc<Shared>, first: Session) {
    let mut session = Some(first);
    let mut backoff = MIN_BACKOFF;
    loop {
        if let Some(mut live) = session.take() {
            while live.notifications.recv().await.is_some() {
                metrics::counter!("gridstore_listener_notifications_total").increment(1);
                shared.bump();
            }
            shared.connected.store(false, Ordering::Release);
            shared.bump();
            tracing::warn!("event listener disconnected; reconnecting");
            backoff = MIN_BACKOFF;
        }
        tokio::time::sleep(backoff).await;
        match connect(&config, &shared).await {
            Ok(live) => {
                shared.reconnects.fetch_add(1, Ordering::AcqRel);
                metrics::counter!("gridstore_listener_reconnects_total").increment(1);
                session = Some(live);
            }
            Err(err) => {
                tracing::warn!(error = %err, backoff_ms = backoff.as_millis(), "event listener reconnect failed");
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
