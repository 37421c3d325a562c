//! Tracing spans across the boundary: one `POST /positions` on a real server on PostgreSQL
//! gives one tree, the HTTP `request` span → `store.create_position` → `sql` spans named by
//! statement, never carrying a value. In its own binary: the capturing subscriber is the
//! process-wide default, installed before any callsite is registered.

// Shared with e2e_postgres.rs; this binary uses a part of them.
#[allow(dead_code)]
mod e2e {
    pub mod client;
    pub mod flows;
    pub mod server;
}

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};

use hyper::{Method, StatusCode};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

use e2e::flows::{self, EXACT_AMOUNT};
use e2e::server::{ROOT_KEY, TestServer};

/// One span as the subscriber saw it.
#[derive(Debug, Clone, Default)]
struct Captured {
    name: &'static str,
    parent: Option<u64>,
    fields: HashMap<String, String>,
}

/// Records every span with its parent and fields.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<HashMap<u64, Captured>>>);

impl Capture {
    fn spans(&self) -> HashMap<u64, Captured> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent().map(|parent| parent.id().into_u64()));
        let mut captured = Captured {
            name: attrs.metadata().name(),
            parent,
            fields: HashMap::new(),
        };
        attrs.record(&mut Fields(&mut captured.fields));
        let mut spans = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        spans.insert(id.into_u64(), captured);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(span) = spans.get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }
}

/// The root of `id`'s tree.
fn root_of(spans: &HashMap<u64, Captured>, mut id: u64) -> u64 {
    while let Some(parent) = spans.get(&id).and_then(|span| span.parent) {
        id = parent;
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_positions_is_one_trace_from_the_http_span_to_its_sql_statements() {
    // Arrange
    let capture = Capture::default();
    tracing_subscriber::registry()
        .with(capture.clone())
        .try_init()
        .expect("the only subscriber of this binary");
    let db = testkit::database().await;
    let server = TestServer::postgres(db.url()).await;
    let tenant = flows::tenant(server.addr, ROOT_KEY).await;
    let mut admin = server.client(&tenant.admin_key).await;

    // Act
    let created = admin
        .send(
            Method::POST,
            "/positions",
            Some(&flows::position_body(&tenant.asset_id)),
            &[("x-request-id", "trace-me-1")],
        )
        .await
        .expect(StatusCode::CREATED);
    let position_id = created.str("id");
    server.stop().await;

    // Assert: the request span ...
    let spans = capture.spans();
    let requests: Vec<u64> = spans
        .iter()
        .filter(|(_, span)| {
            span.name == "request"
                && span.fields.get("request_id").map(String::as_str) == Some("trace-me-1")
        })
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(requests.len(), 1, "one request span for the POST");
    let request = requests[0];
    let fields = &spans[&request].fields;
    assert_eq!(fields.get("method").map(String::as_str), Some("POST"));
    assert_eq!(fields.get("route").map(String::as_str), Some("/positions"));
    assert_eq!(fields.get("status").map(String::as_str), Some("201"));
    assert_eq!(spans[&request].parent, None, "the request span is the root");
    // ... has the store call as a child ...
    let store: Vec<u64> = spans
        .iter()
        .filter(|(_, span)| span.name == "store.create_position" && span.parent == Some(request))
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        store.len(),
        1,
        "one store.create_position under the request"
    );
    // ... whose SQL statements are its children, named, and in the same trace.
    let sql: Vec<&Captured> = spans
        .values()
        .filter(|span| span.name == "sql" && span.parent == Some(store[0]))
        .collect();
    let statements: Vec<&str> = sql
        .iter()
        .filter_map(|span| span.fields.get("db.statement").map(String::as_str))
        .collect();
    assert!(
        statements.iter().any(|s| s.contains("insert positions")),
        "the position's insert among {statements:?}"
    );
    assert_eq!(statements.len(), sql.len(), "every sql span is named");
    let in_trace = spans
        .iter()
        .filter(|(id, span)| span.name == "sql" && root_of(&spans, **id) == request)
        .count();
    assert!(in_trace >= sql.len());
    // Never a value: neither the amount nor the new id appears in any span field.
    for span in spans.values() {
        for value in span.fields.values() {
            assert!(!value.contains(EXACT_AMOUNT), "{span:?}");
            assert!(!value.contains(&position_id), "{span:?}");
        }
    }
}
