//! One dispatcher per endpoint across instances, and crash recovery from checkpoints.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use escrowgrid::webhooks::WebhookSettings;

use super::receiver::{Behaviour, Receiver};
use super::support::{Backend, Instance, fast_settings, wait_until};

/// `count` state changes spread round-robin over `positions`.
fn round_robin<'a>(positions: &[&'a str], count: usize) -> Vec<(&'static str, Option<&'a str>)> {
    (0..count)
        .map(|i| {
            (
                "position.state_changed",
                Some(positions[i % positions.len()]),
            )
        })
        .collect()
}

/// Whether the receiver got every one of `ids` at least once.
fn all_delivered(receiver: &Receiver, ids: &[String]) -> bool {
    let seen: HashSet<String> = receiver
        .requests()
        .iter()
        .map(|r| r.header("webhook-id").to_owned())
        .collect();
    ids.iter().all(|id| seen.contains(id))
}

fn one_lane() -> WebhookSettings {
    WebhookSettings {
        endpoint_parallelism: 1,
        ..fast_settings()
    }
}

#[tokio::test]
async fn two_instances_on_one_database_never_dispatch_one_endpoint_concurrently() {
    let (backend, _database) = Backend::postgres().await;
    let receiver = Receiver::start(Behaviour::Slow(Duration::from_millis(20))).await;
    let first = Instance::start(&backend, one_lane()).await;
    let second = Instance::start(&backend, one_lane()).await;
    let (acme, _, _) = first.tenant("Acme").await;
    let (_, _) = first.webhook(&acme, &receiver.url(), &["*"]).await;
    let positions = ["pos_a", "pos_b", "pos_c", "pos_d"];
    let events = round_robin(&positions, 24);
    // Both instances are alive and race for the endpoint's lease the whole time.
    let ids = first.emit(&acme, &events).await;

    wait_until("every event delivered", Duration::from_secs(30), || {
        all_delivered(&receiver, &ids)
    })
    .await;
    assert_eq!(
        receiver.max_in_flight(),
        1,
        "two dispatchers sent to the endpoint at the same time"
    );
    assert!(first.dispatcher.is_some() && second.dispatcher.is_some());
}

async fn a_crash_mid_batch_loses_nothing_and_keeps_the_order_of_each_position(backend: Backend) {
    let receiver = Receiver::start(Behaviour::Slow(Duration::from_millis(15))).await;
    let settings = WebhookSettings {
        endpoint_parallelism: 3,
        ..fast_settings()
    };
    let mut first = Instance::start(&backend, settings.clone()).await;
    let (acme, _, _) = first.tenant("Acme").await;
    first.webhook(&acme, &receiver.url(), &["*"]).await;
    let positions = ["pos_x", "pos_y", "pos_z"];
    let events = round_robin(&positions, 45);
    let ids = first.emit(&acme, &events).await;

    wait_until("the first deliveries", Duration::from_secs(20), || {
        receiver.count() >= 8
    })
    .await;
    first.crash_dispatcher();
    let delivered_before = receiver.count();
    assert!(
        delivered_before < ids.len(),
        "the crash must land mid-stream"
    );
    let _second = first.sibling(settings);

    wait_until(
        "every event after the crash",
        Duration::from_secs(30),
        || {
            let seen: HashSet<String> = receiver
                .requests()
                .iter()
                .map(|r| r.header("webhook-id").to_owned())
                .collect();
            ids.iter().all(|id| seen.contains(id))
        },
    )
    .await;

    // Per position, events arrive in emission order on first receipt.
    let order: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut first_seen: HashMap<String, Vec<usize>> = HashMap::new();
    let mut seen = HashSet::new();
    for request in receiver.requests() {
        let id = request.header("webhook-id").to_owned();
        if !seen.insert(id.clone()) {
            continue;
        }
        let position = request.json()["data"]["id"]
            .as_str()
            .expect("position")
            .to_owned();
        first_seen
            .entry(position)
            .or_default()
            .push(order[id.as_str()]);
    }
    assert_eq!(first_seen.len(), positions.len());
    for (position, sequence) in &first_seen {
        assert!(
            sequence.windows(2).all(|pair| pair[0] < pair[1]),
            "{position} out of order: {sequence:?}"
        );
        assert_eq!(sequence.len(), ids.len() / positions.len());
    }
}

#[tokio::test]
async fn a_crash_mid_batch_loses_nothing_and_keeps_the_order_of_each_position_on_memory() {
    a_crash_mid_batch_loses_nothing_and_keeps_the_order_of_each_position(Backend::Memory).await;
}

#[tokio::test]
async fn a_crash_mid_batch_loses_nothing_and_keeps_the_order_of_each_position_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    a_crash_mid_batch_loses_nothing_and_keeps_the_order_of_each_position(backend).await;
}
