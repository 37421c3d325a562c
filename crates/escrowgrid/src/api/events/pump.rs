//! The per-client pump: a task follows a gridstore [`Subscription`] and feeds a bounded queue;
//! the response body drains the queue as SSE events.
//!
//! - **Order and gaps**: the subscription reads in commit order behind gridstore's commit
//!   fence, so the cursor (`id:`) of each event sent is a safe resume point.
//! - **Back-pressure**: the queue holds at most `EVENTS_STREAM_MAX_BUFFER` events; the pump
//!   reads the log only as fast as the client takes them (a backlog stays in the log, not in
//!   memory). A client whose queue stays full for a whole heartbeat interval
//!   (`EVENTS_STREAM_HEARTBEAT_MS`) has stalled: the pump stops (counted in
//!   `taas_events_stream_overflows_total`), the body sends what is queued and ends, and the
//!   client resumes with its last `id:`. Nothing else is buffered per client.
//! - **Errors**: a failed read ends the stream the same way (the client resumes); the pump
//!   also stops as soon as the client is gone.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::Event as SseEvent;
use chrono::Utc;
use futures_util::Stream;
use gridstore::{Event, EventFilter, EventLog, EventPosition, Subscription, SubscriptionOptions};
use tokio::sync::mpsc;

use crate::api::state::AppState;

/// The `subscription` label of the stream clients' gridstore lag gauge (one series for all).
const SUBSCRIPTION_NAME: &str = "events_stream";

/// Starts the pump for one client and returns the SSE body stream.
pub(super) fn start(
    state: &AppState,
    log: Arc<dyn EventLog>,
    from: EventPosition,
    filter: EventFilter,
    types: Option<BTreeSet<&'static str>>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static {
    let bound = state.settings().events_stream.max_buffer.max(1);
    let (queue, received) = mpsc::channel(bound);
    let options = SubscriptionOptions {
        batch_size: bound.min(100),
        ..SubscriptionOptions::default()
    };
    let subscription =
        Subscription::new(log, Some(from), filter, options).with_name(SUBSCRIPTION_NAME);
    tokio::spawn(pump(subscription, types, queue, state.clone()));
    let client = Client::connect(state.clone());
    futures_util::stream::unfold((received, client), |(mut received, client)| async move {
        let event = received.recv().await?;
        let sse = client.deliver(&event);
        Some((Ok(sse), (received, client)))
    })
}

/// Moves events from the subscription into the client's queue until the client is gone, falls
/// behind by more than the queue holds, or a read fails.
async fn pump(
    mut subscription: Subscription,
    types: Option<BTreeSet<&'static str>>,
    queue: mpsc::Sender<Event>,
    state: AppState,
) {
    let mut shutdown = state.event_streams_closed();
    let grace = state.settings().events_stream.heartbeat;
    loop {
        let batch = tokio::select! {
            () = queue.closed() => return,
            _ = shutdown.wait_for(|closed| *closed) => return,
            batch = subscription.next_batch() => batch,
        };
        let events = match batch {
            Ok(events) => events,
            Err(err) => {
                tracing::warn!(error = %err, "event stream read failed; ending the stream");
                return;
            }
        };
        let wanted = events.into_iter().filter(|e| {
            types
                .as_ref()
                .is_none_or(|t| t.contains(e.event_type.as_str()))
        });
        for event in wanted {
            let event = match queue.try_send(event) {
                Ok(()) => continue,
                Err(mpsc::error::TrySendError::Closed(_)) => return,
                Err(mpsc::error::TrySendError::Full(event)) => event,
            };
            match tokio::time::timeout(grace, queue.send(event)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    state.metrics().stream.overflowed();
                    tracing::info!(
                        cursor = %subscription.position(),
                        "event stream client stalled with a full queue; ending the stream"
                    );
                    return;
                }
            }
        }
    }
}

/// One connected client: counted in `taas_events_stream_clients` while its body lives.
struct Client {
    state: AppState,
}

impl Client {
    fn connect(state: AppState) -> Self {
        state.metrics().stream.client_connected();
        Self { state }
    }

    /// The SSE form of `event` (`id:` cursor, `event:` type, `data:` payload), recording the
    /// outbox lag.
    fn deliver(&self, event: &Event) -> SseEvent {
        let lag = (Utc::now() - event.recorded_at).num_milliseconds().max(0);
        #[allow(clippy::cast_precision_loss)] // milliseconds fit an f64 exactly
        self.state.metrics().stream.delivered(lag as f64 / 1000.0);
        SseEvent::default()
            .id(event.position.to_string())
            .event(event.event_type.as_str())
            .data(event.payload.to_string())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.state.metrics().stream.client_disconnected();
    }
}
