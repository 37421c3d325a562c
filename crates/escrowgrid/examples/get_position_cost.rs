//! The cost of a position get on the memory store, copied (`get_position`) and shared
//! (`get_position_shared`, what `GET /positions/{id}` uses), alone and with the JSON rendering
//! of the answer: a position with three transitions, each carrying 20 metadata fields
//! (a 14.7 KB body). Three runs of 20,000 gets each; microseconds per get.
//!
//! ```sh
//! cargo run -p escrowgrid --example get_position_cost
//! ```

#![allow(clippy::print_stdout, reason = "a measurement prints its results")]

use std::hint::black_box;
use std::time::Instant;

use escrowgrid::domain::{JsonObject, PositionState, TransitionRequest};
use escrowgrid::store::memory::MemoryStore;
use escrowgrid::store::{EscrowStore, Scope};
use escrowgrid::testing::fixtures::{audit, position_setup};

const GETS: u32 = 20_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(measure());
}

/// Microseconds per call of `call`, over [`GETS`] calls.
async fn per_get<T, F: Future<Output = T>>(mut call: impl FnMut() -> F) -> f64 {
    let started = Instant::now();
    for _ in 0..GETS {
        black_box(call().await);
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(GETS)
}

async fn measure() {
    let store = MemoryStore::new();
    let (_, _, position) = position_setup(&store).await;
    for to in [
        PositionState::Funded,
        PositionState::PartiallyReleased,
        PositionState::Released,
    ] {
        let metadata: JsonObject = (0..20)
            .map(|k| {
                let note = serde_json::json!({ "note": "x".repeat(200), "n": k });
                (format!("field{k}"), note)
            })
            .collect();
        let request = TransitionRequest {
            metadata: Some(metadata),
            reason: Some("wire received".into()),
            ..TransitionRequest::to(to)
        };
        store
            .transition_position(&Scope::Root, &position.id, request, &audit())
            .await
            .expect("transition");
    }
    let (store, id) = (&store, &position.id);
    let get = || async move { store.get_position(&Scope::Root, id).await.expect("get") };
    let shared = || async move {
        let found = store.get_position_shared(&Scope::Root, id).await;
        found.expect("get")
    };
    let body = serde_json::to_vec(&*shared().await).expect("json").len();
    println!("body {body} B; microseconds per get (get + JSON / get alone)");
    println!("| run | copied + JSON | shared + JSON | copied | shared |");
    for run in 1..=3 {
        let copied_json = per_get(|| async { serde_json::to_vec(&get().await) }).await;
        let shared_json = per_get(|| async { serde_json::to_vec(&*shared().await) }).await;
        let copied = per_get(get).await;
        let shared_only = per_get(shared).await;
        println!(
            "| {run} | {copied_json:.2} | {shared_json:.2} | {copied:.2} | {shared_only:.2} |"
        );
    }
}
