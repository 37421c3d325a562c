//! Load shedding (issue 10 item 5): a cap on the requests handled at once
//! (`HTTP_MAX_IN_FLIGHT_REQUESTS`, default 1024). A request over the cap is answered at once
//! with 503 `Server overloaded` and `Retry-After: 1` ([`ApiError::overloaded`]) instead of
//! queueing without bound behind the database pool: under overload, latency of the requests
//! that are admitted stays bounded and clients back off.
//!
//! A request holds its slot until its response head is ready, so a live event stream
//! (`GET /events/stream`) holds none while it streams. Liveness and readiness probes and the
//! metrics endpoints are never shed ([`EXEMPT`]): a load balancer or an orchestrator must not
//! take an overloaded instance for a dead one, and operators need the metrics most then.
//!
//! The cap counts requests, not connections: idle keep-alive connections cost no slot
//! (connections are capped separately by `HTTP_MAX_CONNECTIONS`, `src/server/listen.rs`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::ApiError;

/// Paths that are never shed.
pub const EXEMPT: [&str; 4] = ["/health", "/ready", "/metrics", "/metrics/prometheus"];

/// The in-flight slots shared by every request of one router. Cheap to clone.
#[derive(Clone, Debug)]
pub struct InFlight {
    slots: Arc<Semaphore>,
    limit: usize,
}

impl InFlight {
    /// A cap of `limit` requests at once (at least 1).
    pub fn new(limit: usize) -> Self {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// How many requests are being handled now (exempt paths not counted).
    pub fn in_flight(&self) -> usize {
        self.limit - self.slots.available_permits()
    }
}

/// Middleware: runs the request in a free slot, or answers 503 at once when none is free.
pub async fn shed(State(in_flight): State<InFlight>, request: Request, next: Next) -> Response {
    if EXEMPT.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Ok(slot) = in_flight.slots.clone().try_acquire_owned() else {
        tracing::debug!(
            limit = in_flight.limit,
            path = request.uri().path(),
            "request shed: too many requests in flight"
        );
        return ApiError::overloaded().into_response();
    };
    let response = next.run(request).await;
    drop(slot);
    response
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{StatusCode, header};
    use axum::middleware::from_fn_with_state;
    use axum::routing::get;
    use tokio::sync::oneshot;
    use tower::ServiceExt;

    use super::*;

    fn app(
        in_flight: &InFlight,
        gate: Arc<tokio::sync::Mutex<Option<oneshot::Receiver<()>>>>,
    ) -> Router {
        Router::new()
            .route(
                "/slow",
                get(move || {
                    let gate = gate.clone();
                    async move {
                        let receiver = gate.lock().await.take();
                        if let Some(receiver) = receiver {
                            let _ = receiver.await;
                        }
                        "done"
                    }
                }),
            )
            .route("/health", get(|| async { "ok" }))
            .layer(from_fn_with_state(in_flight.clone(), shed))
    }

    fn get_request(path: &str) -> Request {
        Request::builder()
            .uri(path)
            .body(Body::empty())
            .expect("request")
    }

    #[tokio::test]
    async fn a_request_over_the_cap_is_shed_at_once_and_the_slot_frees_with_the_response() {
        // Arrange: a cap of one, held by a request waiting on a gate.
        let in_flight = InFlight::new(1);
        let (open, gate) = oneshot::channel();
        let app = app(&in_flight, Arc::new(tokio::sync::Mutex::new(Some(gate))));
        let held = tokio::spawn(app.clone().oneshot(get_request("/slow")));
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while in_flight.in_flight() < 1 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the first request never took its slot");

        // Act
        let shed = app
            .clone()
            .oneshot(get_request("/slow"))
            .await
            .expect("call");
        let health = app
            .clone()
            .oneshot(get_request("/health"))
            .await
            .expect("call");
        open.send(()).expect("open the gate");
        let held = held.await.expect("join").expect("call");
        let after = app.oneshot(get_request("/slow")).await.expect("call");

        // Assert
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()[header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(shed.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).expect("json"),
            serde_json::json!({ "error": "Server overloaded" })
        );
        assert_eq!(health.status(), StatusCode::OK, "probes are never shed");
        assert_eq!(held.status(), StatusCode::OK);
        assert_eq!(after.status(), StatusCode::OK);
        assert_eq!(in_flight.in_flight(), 0);
    }
}
