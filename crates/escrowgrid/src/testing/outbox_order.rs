//! The outbox's ordering under concurrency (re-exported by [`super::outbox`]): concurrent
//! writers' events reach a subscriber once each, in commit order.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use gridstore::{Event, EventFilter, EventLog, Subscription, SubscriptionOptions};

use crate::domain::{PositionState, TransitionRequest};
use crate::store::outbox::stream_of;
use crate::store::{EscrowStore, Scope};

use super::fixtures::{audit, new_position, position_setup};
use super::outbox::all_events;

/// Writers on several tasks at once: a subscriber that started before them receives every one
/// of their events exactly once, in commit order (a position's creation before its change).
pub async fn concurrent_writers_events_reach_a_subscriber_once_in_commit_order(
    store: Arc<dyn EscrowStore>,
) {
    const WRITERS: usize = 8;
    const PER_WRITER: usize = 10;
    let (acme, asset, _) = position_setup(&*store).await;
    let log: Arc<dyn EventLog> = store.events();
    // After the setup's events (all committed): the writers' transactions begin later.
    let start = all_events(&*store).await.last().map(|e| e.position);
    let options = SubscriptionOptions {
        batch_size: 7,
        poll_interval: Duration::from_millis(100),
    };
    let filter = EventFilter::all().stream(stream_of(&acme.id));
    let mut subscription = Subscription::new(log, start, filter, options);

    let mut writers = Vec::with_capacity(WRITERS);
    for writer in 0..WRITERS {
        let (store, asset) = (store.clone(), asset.clone());
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(PER_WRITER);
            for n in 0..PER_WRITER {
                let new = new_position(&asset, &format!("w{writer}-{n}"), "100");
                let created = store
                    .create_position(&Scope::Root, new, &audit())
                    .await
                    .unwrap();
                let funded = TransitionRequest::to(PositionState::Funded);
                store
                    .transition_position(&Scope::Root, &created.id, funded, &audit())
                    .await
                    .unwrap();
                ids.push(created.id);
            }
            ids
        }));
    }
    let mut written = HashSet::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }

    let expected = WRITERS * PER_WRITER * 4;
    let mut got: Vec<Event> = Vec::with_capacity(expected);
    tokio::time::timeout(Duration::from_secs(60), async {
        while got.len() < expected {
            got.extend(subscription.next_batch().await.unwrap());
        }
    })
    .await
    .expect("every event arrives within 60 s");
    assert!(
        subscription.poll().await.unwrap().is_empty(),
        "no extra event"
    );
    assert!(got.windows(2).all(|w| w[0].position < w[1].position));
    let ids: HashSet<String> = got
        .iter()
        .map(|e| e.payload["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), expected, "no event twice");
    let mut kinds: HashMap<String, Vec<&str>> = HashMap::new();
    for event in &got {
        let position = event.correlation_id.clone().unwrap();
        kinds.entry(position).or_default().push(&event.event_type);
    }
    let order = [
        "position.created",
        "ledger_event.recorded",
        "position.state_changed",
        "ledger_event.recorded",
    ];
    assert_eq!(kinds.len(), written.len());
    for id in &written {
        assert_eq!(kinds[id.as_str()], order, "{id}");
    }
}
