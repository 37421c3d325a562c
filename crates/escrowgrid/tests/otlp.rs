//! The OTLP exporter (feature `otlp`) against an in-process OTLP/HTTP receiver: one
//! `POST /positions` on a real server on PostgreSQL arrives as one trace holding the HTTP
//! `request` span and, below it, its `sql` spans. Own binary: the exporting subscriber is the
//! process-wide default.

// Shared with e2e_postgres.rs; this binary uses a part of them.
#[allow(dead_code)]
mod e2e {
    pub mod client;
    pub mod flows;
    pub mod server;
}

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::net::TcpListener;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use e2e::flows;
use e2e::server::{ROOT_KEY, TestServer};

/// Every span the receiver was sent.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Span>>>);

impl Received {
    fn spans(&self) -> Vec<Span> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// An OTLP/HTTP receiver on 127.0.0.1: decodes `POST /v1/traces` (protobuf) and keeps the
/// spans.
async fn receiver() -> (SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let received = Received::default();
    let spans = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let spans = spans.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let spans = spans.clone();
                    async move {
                        let path_ok = req.uri().path() == "/v1/traces";
                        let body = req.into_body().collect().await.map(|b| b.to_bytes());
                        let status = match (path_ok, body) {
                            (true, Ok(body)) => match ExportTraceServiceRequest::decode(body) {
                                Ok(export) => {
                                    let mut all =
                                        spans.0.lock().unwrap_or_else(PoisonError::into_inner);
                                    for resource in export.resource_spans {
                                        for scope in resource.scope_spans {
                                            all.extend(scope.spans);
                                        }
                                    }
                                    StatusCode::OK
                                }
                                Err(_) => StatusCode::BAD_REQUEST,
                            },
                            _ => StatusCode::NOT_FOUND,
                        };
                        let mut response = Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = status;
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, received)
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|value| match &value.value {
            Some(Value::StringValue(s)) => Some(s.clone()),
            Some(Value::IntValue(i)) => Some(i.to_string()),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_positions_is_exported_as_one_trace_with_the_http_span_and_its_sql_spans() {
    // Arrange: the exporter sends to the receiver
    let (collector, received) = receiver().await;
    let (otlp, guard) =
        escrowgrid::observability::otlp::layer(Some(&format!("http://{collector}")))
            .expect("otlp layer");
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(otlp)
        .try_init()
        .expect("the only subscriber of this binary");
    let db = testkit::database().await;
    let server = TestServer::postgres(db.url()).await;
    let tenant = flows::tenant(server.addr, ROOT_KEY).await;
    let mut admin = server.client(&tenant.admin_key).await;

    // Act
    admin
        .send(
            Method::POST,
            "/positions",
            Some(&flows::position_body(&tenant.asset_id)),
            &[("x-request-id", "otlp-trace-1")],
        )
        .await
        .expect(StatusCode::CREATED);
    server.stop().await;
    let guard = tokio::task::spawn_blocking(move || {
        guard.flush().expect("flush to the receiver");
        guard
    })
    .await
    .expect("join");

    // Assert
    let spans = received.spans();
    let requests: Vec<&Span> = spans
        .iter()
        .filter(|s| {
            s.name == "request" && attribute(s, "request_id").as_deref() == Some("otlp-trace-1")
        })
        .collect();
    assert_eq!(
        requests.len(),
        1,
        "one request span among {} spans",
        spans.len()
    );
    let request = requests[0];
    assert!(
        request.parent_span_id.is_empty(),
        "the request span is the root"
    );
    assert_eq!(attribute(request, "route").as_deref(), Some("/positions"));
    let by_id: HashMap<&[u8], &Span> = spans.iter().map(|s| (s.span_id.as_slice(), s)).collect();
    let under_request = |span: &Span| {
        let mut parent = span.parent_span_id.as_slice();
        while let Some(next) = by_id.get(parent) {
            if next.span_id == request.span_id {
                return true;
            }
            parent = next.parent_span_id.as_slice();
        }
        false
    };
    let sql: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "sql" && s.trace_id == request.trace_id)
        .collect();
    assert!(
        sql.iter()
            .any(|s| attribute(s, "db.statement").is_some_and(|n| n.contains("insert positions"))),
        "the position's insert among the request's sql spans"
    );
    assert!(
        sql.iter().all(|s| under_request(s)),
        "every sql span descends from the request"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.name == "store.create_position" && s.trace_id == request.trace_id),
        "the store span is in the trace"
    );
    drop(guard);
}
