//! `GET /events/stream` on the memory store: scope, filters, resume, heartbeat and the bounded
//! per-client queue.

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::helpers::{ROOT, TestApp, World, number, position_body};
use crate::sse::{Frame, SseReader};

const WAIT: Duration = Duration::from_secs(10);

/// Opens a stream (the response's body is read as it comes).
async fn open(app: &TestApp, path: &str, key: &str, headers: &[(&str, &str)]) -> Opened {
    let mut request = Request::get(path).header("x-api-key", key);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::empty()).expect("request");
    Opened(
        app.router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible"),
    )
}

struct Opened(axum::response::Response);

impl Opened {
    fn expect_stream(self) -> SseReader<Body> {
        assert_eq!(self.0.status(), StatusCode::OK);
        let content_type = self.0.headers().get("content-type").expect("content type");
        assert_eq!(content_type, "text/event-stream");
        SseReader::new(self.0.into_body())
    }

    async fn expect_error(self, status: StatusCode) -> Value {
        assert_eq!(self.0.status(), status);
        let bytes = axum::body::to_bytes(self.0.into_body(), usize::MAX)
            .await
            .expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("a JSON error body");
        assert!(body["error"].is_string(), "{body}");
        body
    }
}

async fn new_position(app: &TestApp, world: &World) -> String {
    app.create_position(
        &world.tenant.admin,
        position_body(&world.asset, number("10")),
    )
    .await
    .expect(201)["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn fund(app: &TestApp, world: &World, position: &str) {
    app.transition(&world.tenant.admin, position, json!({"toState": "FUNDED"}))
        .await
        .expect(200);
}

#[tokio::test]
async fn a_key_streams_its_institutions_new_events_with_cursor_type_and_payload() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let mut stream = open(&app, "/events/stream", &world.tenant.read_only, &[])
        .await
        .expect_stream();

    let position = new_position(&app, &world).await;
    fund(&app, &world, &position).await;
    let frames = stream.events(4, WAIT).await;

    let types: Vec<_> = frames.iter().map(|f| f.event.clone().unwrap()).collect();
    assert_eq!(
        types,
        [
            "position.created",
            "ledger_event.recorded",
            "position.state_changed",
            "ledger_event.recorded"
        ],
        "no replay of the world's earlier events, then the new ones in order"
    );
    let created = frames[0].json();
    assert_eq!(created["type"], "position.created");
    assert_eq!(created["institutionId"], json!(world.tenant.id));
    assert_eq!(created["data"]["id"], json!(position));
    assert_eq!(created["data"]["state"], "CREATED");
    assert!(created["id"].as_str().unwrap().starts_with("evt_"));
    let changed = frames[2].json();
    assert_eq!(changed["data"]["position"]["state"], "FUNDED");
    assert_eq!(
        (&changed["data"]["fromState"], &changed["data"]["toState"]),
        (&json!("CREATED"), &json!("FUNDED"))
    );
    let cursors: Vec<gridstore::EventPosition> =
        frames.iter().map(|f| f.cursor().parse().unwrap()).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn resuming_with_last_event_id_or_after_delivers_every_event_exactly_once() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let key = world.tenant.admin.clone();
    let mut first = open(&app, "/events/stream", &key, &[])
        .await
        .expect_stream();
    for _ in 0..3 {
        new_position(&app, &world).await;
    }
    let seen = first.events(3, WAIT).await;
    drop(first); // disconnect after 3 of the 6 events

    for _ in 0..2 {
        new_position(&app, &world).await;
    }
    let last = seen[2].cursor().to_owned();
    let mut resumed = open(&app, "/events/stream", &key, &[("last-event-id", &last)])
        .await
        .expect_stream();
    let rest = resumed.events(7, WAIT).await;
    let mut by_query = open(&app, &format!("/events/stream?after={last}"), &key, &[])
        .await
        .expect_stream();
    let same = by_query.events(7, WAIT).await;

    let all: Vec<&Frame> = seen.iter().chain(&rest).collect();
    let ids: HashSet<String> = all.iter().map(|f| f.event_id()).collect();
    assert_eq!(ids.len(), 10, "5 positions, 2 events each, none twice");
    assert_eq!(rest, same, "?after= resumes exactly like Last-Event-ID");
    let positions: HashSet<String> = all
        .iter()
        .filter(|f| f.event.as_deref() == Some("position.created"))
        .map(|f| f.json()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(positions.len(), 5);
}

#[tokio::test]
async fn another_institutions_key_sees_none_of_its_events_even_by_position_id() {
    let app = TestApp::new();
    let acme = app.world("Acme").await;
    let globex = app.world("Globex").await;
    let path = format!("/events/stream?positionId={}", acme.position);
    let mut snoop_by_position = open(&app, &path, &globex.tenant.admin, &[])
        .await
        .expect_stream();
    let mut snoop = open(&app, "/events/stream", &globex.tenant.read_only, &[])
        .await
        .expect_stream();
    let from_start = format!("/events/stream?after=0:0&positionId={}", acme.position);
    let mut replay = open(&app, &from_start, &globex.tenant.admin, &[])
        .await
        .expect_stream();

    fund(&app, &acme, &acme.position).await;
    new_position(&app, &acme).await;
    let marker = new_position(&app, &globex).await;

    let first = snoop.next_event(WAIT).await;
    assert_eq!(
        first.json()["data"]["id"],
        json!(marker),
        "Acme's events never arrive"
    );
    assert_eq!(first.json()["institutionId"], json!(globex.tenant.id));
    let other = format!("/events/stream?institutionId={}", acme.tenant.id);
    open(&app, &other, &globex.tenant.admin, &[])
        .await
        .expect_error(StatusCode::NOT_FOUND)
        .await;
    // The positionId streams see nothing: Globex's own marker does not match, Acme's events
    // are out of scope. Each ends at shutdown without having sent an event.
    fund(&app, &globex, &marker).await;
    assert_eq!(snoop.events(2, WAIT).await.len(), 2);
    for stream in [&mut snoop_by_position, &mut replay] {
        let frame = tokio::time::timeout(Duration::from_millis(300), stream.next_event(WAIT)).await;
        assert!(
            frame.is_err(),
            "an out-of-scope event was streamed: {frame:?}"
        );
    }
}

#[tokio::test]
async fn root_sees_every_institution_or_one_and_an_unknown_one_is_not_found() {
    let app = TestApp::new();
    let acme = app.world("Acme").await;
    let globex = app.world("Globex").await;
    let mut everything = open(&app, "/events/stream", ROOT, &[])
        .await
        .expect_stream();
    let only_acme = format!("/events/stream?institutionId={}", acme.tenant.id);
    let mut acme_only = open(&app, &only_acme, ROOT, &[]).await.expect_stream();

    let g = new_position(&app, &globex).await;
    let a = new_position(&app, &acme).await;

    let all = everything.events(4, WAIT).await;
    assert_eq!(all[0].json()["data"]["id"], json!(g));
    assert_eq!(all[2].json()["data"]["id"], json!(a));
    let first = acme_only.next_event(WAIT).await;
    assert_eq!(first.json()["data"]["id"], json!(a));
    let missing = "/events/stream?institutionId=inst_00000000-0000-4000-8000-000000000000";
    open(&app, missing, ROOT, &[])
        .await
        .expect_error(StatusCode::NOT_FOUND)
        .await;
    open(&app, "/events/stream?institutionId=garbage", ROOT, &[])
        .await
        .expect_error(StatusCode::NOT_FOUND)
        .await;
}

#[tokio::test]
async fn types_and_position_filters_select_events() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let key = &world.tenant.admin;
    let mut changes = open(
        &app,
        "/events/stream?types=position.state_changed",
        key,
        &[],
    )
    .await
    .expect_stream();
    let two = "/events/stream?types=position.created,%20position.state_changed";
    let mut lifecycle = open(&app, two, key, &[]).await.expect_stream();
    let one = format!("/events/stream?positionId={}", world.position);
    let mut of_position = open(&app, &one, key, &[]).await.expect_stream();

    let other = new_position(&app, &world).await;
    fund(&app, &world, &other).await;
    fund(&app, &world, &world.position).await;

    let got = changes.events(2, WAIT).await;
    assert!(
        got.iter()
            .all(|f| f.event.as_deref() == Some("position.state_changed"))
    );
    assert_eq!(
        got[1].json()["data"]["position"]["id"],
        json!(world.position)
    );
    let got = lifecycle.events(3, WAIT).await;
    let types: Vec<_> = got.iter().map(|f| f.event.clone().unwrap()).collect();
    assert_eq!(
        types,
        [
            "position.created",
            "position.state_changed",
            "position.state_changed"
        ]
    );
    let got = of_position.events(2, WAIT).await;
    assert!(got.iter().all(|f| {
        let json = f.json();
        json["data"]["positionId"] == json!(world.position)
            || json["data"]["position"]["id"] == json!(world.position)
    }));
}

#[tokio::test]
async fn an_unknown_type_or_a_malformed_cursor_is_a_validation_error() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    for (path, headers, field) in [
        (
            "/events/stream?types=position.created,position.deleted",
            vec![],
            "types",
        ),
        (
            "/events/stream",
            vec![("last-event-id", "12")],
            "Last-Event-ID",
        ),
        ("/events/stream?after=a:b", vec![], "after"),
    ] {
        let mut call = app.get(path).key(&tenant.admin);
        for (name, value) in headers {
            call = call.header(name, value);
        }
        let reply = call.send().await;
        reply.expect_error(400, "Validation failed");
        assert_eq!(reply.detail_fields(), [field], "{path}");
    }
    app.get("/events/stream").send().await.expect(401);
}

#[tokio::test]
async fn an_idle_stream_sends_heartbeat_comments() {
    let app = TestApp::with(|s| s.events_stream.heartbeat = Duration::from_millis(50));
    let tenant = app.tenant("Acme").await;
    let mut stream = open(&app, "/events/stream", &tenant.admin, &[])
        .await
        .expect_stream();
    let frame = stream.next_frame(WAIT).await.expect("a frame");
    assert_eq!(frame.comment.as_deref(), Some("heartbeat"));
    assert!(frame.id.is_none());
}

#[tokio::test]
async fn a_stalled_client_is_cut_off_once_its_bounded_queue_is_full() {
    let app = TestApp::with(|s| {
        s.events_stream.max_buffer = 4;
        s.events_stream.heartbeat = Duration::from_millis(100);
    });
    let world = app.world("Acme").await;
    let stalled = open(&app, "/events/stream", &world.tenant.admin, &[])
        .await
        .expect_stream();

    // 10 events while the client reads nothing: its queue holds 4.
    for _ in 0..5 {
        new_position(&app, &world).await;
    }
    let overflowed = wait_for_metric(&app, "taas_events_stream_overflows_total 1").await;
    assert!(overflowed, "the stalled client was not cut off");
    let mut stalled = stalled;
    let queued = stalled.until_end(WAIT).await;

    assert_eq!(
        queued.len(),
        4,
        "exactly the bounded queue, then the end of the stream"
    );
    let last = queued[3].cursor().to_owned();
    drop(stalled);
    let mut resumed = open(
        &app,
        "/events/stream",
        &world.tenant.admin,
        &[("last-event-id", &last)],
    )
    .await
    .expect_stream();
    let rest = resumed.events(6, WAIT).await;
    let ids: HashSet<String> = queued.iter().chain(&rest).map(Frame::event_id).collect();
    assert_eq!(
        ids.len(),
        10,
        "the client resumes with its last id and misses nothing"
    );
    drop(resumed);
    assert!(wait_for_metric(&app, "taas_events_stream_clients 0").await);
}

/// Polls `/metrics/prometheus` until it has `line`, for up to 10 s.
async fn wait_for_metric(app: &TestApp, line: &str) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        let text = app.metrics_prometheus(ROOT).await.text;
        if text.lines().any(|l| l == line) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
