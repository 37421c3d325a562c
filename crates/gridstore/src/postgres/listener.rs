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
//! A connection can also die silently (a peer or NAT that vanished, a hung server): no error
//! ever arrives and only polling would cover it. Two guards find it: TCP keepalives on the
//! socket (idle 30 s, then probes every 10 s, 3 of them) and a `select 1` health ping every
//! [`ListenerOptions::ping_interval`] that must answer within
//! [`ListenerOptions::ping_timeout`]; a failed or late ping drops the connection and takes the
//! reconnect path above.
//!
//! Other channels: [`PgListener::start_with_channels`] also listens on the application's own
//! channels (e.g. cache invalidation) on the same connection, and [`PgListener::notices`]
//! hands their notifications out with their payloads, plus a [`ChannelNotice::Reset`] on
//! every disconnect and reconnect (whatever was notified meanwhile is lost: drop what the
//! notifications were keeping fresh).
//!
//! Announcements: appending transactions do not notify (a `NOTIFY` in a transaction takes a
//! database-wide lock from its commit until it ends, so notifying writers commit one at a time;
//! see migration 0010). A process that appended events calls [`PgListener::announce`] after its
//! commit instead: that wakes its own subscribers at once and sends one `notify gs_events` on
//! this connection, outside any writer's transaction and with `synchronous_commit` off (a lost
//! hint costs a poll, not an event); announcements made while one is in flight, or within
//! [`ListenerOptions::announce_interval`] of the last one, are folded into the next, so a burst
//! of commits costs one or two notifications and a busy process at most ~100 a second. The connection hears its
//! own notifications and ignores them (it has woken its subscribers already).
//!
//! The task stops when the last handle is dropped. It runs on the Tokio runtime that called
//! [`PgListener::start`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

mod session;

use tokio::sync::{Notify, broadcast, watch};
use tokio::task::AbortHandle;

use self::session::{connect, run};
use super::PgConfig;
use crate::Result;
use crate::event_log::Wakeups;

/// The channel the event log notifies on (see migration 0004).
pub const EVENTS_CHANNEL: &str = "gs_events";

/// Every session starts with this: announcements need no durable commit, and the event log's
/// channel; the application's channels are appended.
const LISTEN: &str = "set synchronous_commit = off; listen gs_events";
/// What [`PgListener::announce`] sends.
const ANNOUNCE: &str = "notify gs_events";
const BACKEND_PID: &str = "select pg_backend_pid()";
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const PING: &str = "select 1";
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVES_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVES_RETRIES: u32 = 3;
/// Notices buffered per [`PgListener::notices`] receiver before it lags.
const NOTICE_BUFFER: usize = 1024;

/// What [`PgListener::notices`] receives from the application's own channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelNotice {
    /// `NOTIFY channel, 'payload'` committed by some session.
    Notification {
        /// The channel (one of those given to [`PgListener::start_with_channels`]).
        channel: String,
        /// The payload (empty when none was given).
        payload: String,
    },
    /// The connection was lost or re-established: notifications sent meanwhile are lost.
    Reset,
}

/// How the listener checks that its connection is alive and how often it announces; see the
/// [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenerOptions {
    /// How often the health ping (`select 1`) runs (default 30 s).
    pub ping_interval: Duration,
    /// How long a ping may take before the connection is declared dead (default 10 s).
    pub ping_timeout: Duration,
    /// The least time between two announcements sent to other processes (default 10 ms):
    /// announcements made meanwhile are folded into the next, so a busy process sends at most
    /// ~100 `NOTIFY`s a second (each is a transaction for PostgreSQL, and wakes every
    /// listening session), and other processes hear of a commit at most this much later. This
    /// process's own subscribers are woken at once whatever the interval.
    pub announce_interval: Duration,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(30),
            ping_timeout: Duration::from_secs(10),
            announce_interval: Duration::from_millis(10),
        }
    }
}

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
    /// Set by [`PgListener::announce`], taken by the session, which then notifies once.
    announce: Notify,
    /// Notifications of the application's channels, and resets.
    notices: broadcast::Sender<ChannelNotice>,
    /// The `listen` statements run on every connection (`gs_events` and the others).
    listen: String,
    backend_pid: AtomicI32,
    connected: AtomicBool,
    reconnects: AtomicU64,
}

impl Shared {
    fn bump(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Wakes subscribers and tells channel receivers that notifications may have been lost.
    fn reset(&self) {
        self.bump();
        // No receiver: nobody to tell.
        let _ = self.notices.send(ChannelNotice::Reset);
    }
}

impl PgListener {
    /// Connects, runs `LISTEN`, and keeps the connection alive in a background task, with the
    /// default [`ListenerOptions`].
    ///
    /// # Errors
    /// [`crate::Error::Config`] for an unusable configuration; a classified error when the first
    /// connection fails (later failures are retried in the background).
    pub async fn start(config: &PgConfig) -> Result<Self> {
        Self::start_with(config, ListenerOptions::default()).await
    }

    /// [`PgListener::start`] with explicit health-ping options.
    ///
    /// # Errors
    /// As [`PgListener::start`]; also [`crate::Error::Config`] for a zero ping interval or
    /// timeout.
    pub async fn start_with(config: &PgConfig, options: ListenerOptions) -> Result<Self> {
        Self::start_with_channels(config, options, &[]).await
    }

    /// [`PgListener::start_with`] that also listens on `channels` (lowercase ASCII letters,
    /// digits and `_`, starting with a letter or `_`, at most 63 bytes, not `gs_events`); their
    /// notifications go to [`PgListener::notices`].
    ///
    /// # Errors
    /// As [`PgListener::start_with`]; also [`crate::Error::Config`] for an invalid channel.
    pub async fn start_with_channels(
        config: &PgConfig,
        options: ListenerOptions,
        channels: &[&str],
    ) -> Result<Self> {
        if options.ping_interval.is_zero() || options.ping_timeout.is_zero() {
            return Err(crate::Error::Config(
                "listener ping interval and timeout must be positive".into(),
            ));
        }
        let mut listen = LISTEN.to_owned();
        for channel in channels {
            if !valid_channel(channel) {
                return Err(crate::Error::Config(format!(
                    "invalid listener channel {channel:?}"
                )));
            }
            listen.push_str("; listen ");
            listen.push_str(channel);
        }
        // Behind a transaction pooler, LISTEN needs a session of its own on the server.
        let config = config.direct().unwrap_or(config);
        let mut driver_config = config.to_driver_config()?;
        driver_config
            .keepalives(true)
            .keepalives_idle(KEEPALIVES_IDLE)
            .keepalives_interval(KEEPALIVES_INTERVAL)
            .keepalives_retries(KEEPALIVES_RETRIES);
        let shared = Arc::new(Shared {
            wake: watch::Sender::new(0),
            announce: Notify::new(),
            notices: broadcast::Sender::new(NOTICE_BUFFER),
            listen,
            backend_pid: AtomicI32::new(0),
            connected: AtomicBool::new(false),
            reconnects: AtomicU64::new(0),
        });
        let tls = config.tls()?;
        let first = connect(&driver_config, &tls, &shared, false).await?;
        let task =
            tokio::spawn(run(driver_config, tls, options, shared.clone(), first)).abort_handle();
        Ok(Self {
            inner: Arc::new(Inner { shared, task }),
        })
    }

    /// A wake-up signal that changes on every notification, disconnect and reconnect.
    pub fn wakeups(&self) -> Wakeups {
        Wakeups::new(self.inner.shared.wake.subscribe())
    }

    /// Tells every subscriber that events were committed: wakes this process's subscribers at
    /// once and has the listener's connection send one `notify gs_events` for the other
    /// processes (see the [module docs](self)). Call it after the commit of a transaction that
    /// appended events ([`PgEventLog::append_in`](super::PgEventLog::append_in)); without it,
    /// other processes see the events at their next poll.
    ///
    /// Never blocks and never fails: while the connection is down, the announcement waits for
    /// the next one (whose reconnect wakes every subscriber anyway).
    pub fn announce(&self) {
        self.inner.shared.bump();
        self.inner.shared.announce.notify_one();
    }

    /// Notifications of the channels given to [`PgListener::start_with_channels`] from now on,
    /// and a [`ChannelNotice::Reset`] at every disconnect and reconnect. A receiver that falls
    /// more than 1,024 notices behind gets `RecvError::Lagged`: treat it as a reset.
    pub fn notices(&self) -> broadcast::Receiver<ChannelNotice> {
        self.inner.shared.notices.subscribe()
    }

    /// Whether this listener listens on `channel` (given to
    /// [`PgListener::start_with_channels`]).
    pub fn listens_on(&self, channel: &str) -> bool {
        // The first two parts are the `set` and the event log's own channel.
        let mut listened = self.inner.shared.listen.split("; listen ").skip(2);
        listened.any(|c| c == channel)
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

/// Whether `channel` can be listened on unquoted and is not the event log's own.
fn valid_channel(channel: &str) -> bool {
    let mut bytes = channel.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    first_ok
        && channel.len() <= 63
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && channel != EVENTS_CHANNEL
}

#[cfg(test)]
mod tests {
    use super::valid_channel;

    #[test]
    fn only_plain_lowercase_channels_other_than_the_event_log_s_are_accepted() {
        assert!(valid_channel("escrowgrid_api_keys"));
        assert!(valid_channel("_c2"));
        assert!(!valid_channel("gs_events"));
        assert!(!valid_channel(""));
        assert!(!valid_channel("2c"));
        assert!(!valid_channel("Keys"));
        assert!(!valid_channel("a; drop table t"));
        assert!(!valid_channel(&"a".repeat(64)));
    }
}
