//! `GET /events/stream` over real sockets on PostgreSQL: across instances (LISTEN wake-ups),
//! across a disconnect and across a restart, every event exactly once; tenants isolated.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::client::conn::http1::handshake;
use hyper::header::HOST;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::client::Client;
use super::flows::{Tenant, position_body, tenant};
use super::server::{ROOT_KEY, TestServer};
use crate::sse::{Frame, SseReader};

const WAIT: Duration = Duration::from_secs(20);

/// Opens `GET /events/stream` on its own connection, resuming after `cursor` if given.
pub(super) async fn stream(
    addr: SocketAddr,
    key: &str,
    cursor: Option<&str>,
) -> SseReader<Incoming> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = handshake(TokioIo::new(tcp)).await.expect("handshake");
    tokio::spawn(connection);
    let mut request = Request::get("/events/stream")
        .header(HOST, addr.to_string())
        .header("x-api-key", key);
    if let Some(cursor) = cursor {
        request = request.header("last-event-id", cursor);
    }
    let request = request.body(Empty::<Bytes>::new()).expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    SseReader::new(response.into_body())
}

/// Creates `n` positions of `tenant` through `addr`; returns their ids.
async fn positions(addr: SocketAddr, tenant: &Tenant, n: usize) -> Vec<String> {
    let mut admin = Client::connect(addr, Some(&tenant.admin_key)).await;
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let reply = admin
            .post("/positions", &position_body(&tenant.asset_id))
            .await;
        ids.push(reply.expect(StatusCode::CREATED).str("id"));
    }
    ids
}

/// Reads events until `n` positions' creations and their ledger entries arrived. A stream
/// opened without a cursor starts at the commit fence, so it may first replay some events
/// committed just before (here: the tenant's set-up); those are kept too.
async fn read_positions(reader: &mut SseReader<Incoming>, n: usize) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    let ledgers = |frames: &[Frame]| {
        frames
            .iter()
            .filter(|f| f.json()["data"]["kind"] == "POSITION_CREATED")
            .count()
    };
    while created_positions(&frames).len() < n || ledgers(&frames) < n {
        frames.push(reader.next_event(WAIT).await);
    }
    frames
}

fn created_positions(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f.event.as_deref() == Some("position.created"))
        .map(|f| f.json()["data"]["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_resumes_exactly_once_across_instances_a_disconnect_and_a_restart() {
    // Arrange: two instances on one database, two tenants
    let db = testkit::database().await;
    let first = TestServer::postgres(db.url()).await;
    let second = TestServer::postgres(db.url()).await;
    let acme = tenant(first.addr, ROOT_KEY).await;
    let globex = tenant(first.addr, ROOT_KEY).await;

    // Act 1: a client on the second instance follows writes made on the first one
    let mut live = stream(second.addr, &acme.admin_key, None).await;
    let mut snoop = stream(second.addr, &globex.admin_key, Some("0:0")).await;
    let mut written = positions(first.addr, &acme, 3).await;
    let seen = read_positions(&mut live, 3).await;
    drop(live); // disconnect

    // Act 2: more writes while disconnected, then both instances stop and a new one starts
    written.extend(positions(first.addr, &acme, 2).await);
    first.stop().await;
    second.stop().await;
    let snooped = snoop.until_end(WAIT).await;
    let third = TestServer::postgres(db.url()).await;
    written.extend(positions(third.addr, &acme, 2).await);
    let last = seen.last().expect("seen").cursor().to_owned();
    let mut resumed = stream(third.addr, &acme.admin_key, Some(&last)).await;
    let rest = resumed.events(8, WAIT).await;
    assert_eq!(
        created_positions(&rest).len(),
        4,
        "resumed exactly after the last id"
    );

    // Assert: every event once, in order, none of another tenant's
    let all: Vec<Frame> = seen.iter().chain(&rest).cloned().collect();
    let ids: HashSet<String> = all.iter().map(Frame::event_id).collect();
    assert_eq!(ids.len(), all.len(), "no event twice");
    assert_eq!(created_positions(&all), written, "in commit order");
    let cursors: Vec<gridstore::EventPosition> = all
        .iter()
        .map(|f| f.cursor().parse().expect("cursor"))
        .collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]));
    let extra = tokio::time::timeout(Duration::from_millis(500), resumed.next_event(WAIT)).await;
    assert!(extra.is_err(), "an event was delivered twice: {extra:?}");
    assert!(
        snooped
            .iter()
            .all(|f| f.json()["institutionId"] == *globex.institution_id),
        "another institution's event leaked: {snooped:?}"
    );
    let types: Vec<_> = snooped.iter().map(|f| f.event.clone().unwrap()).collect();
    assert_eq!(
        types,
        [
            "institution.created",
            "api_key.created",
            "asset_template.created",
            "asset.created"
        ],
        "the second tenant's own history, replayed from 0:0, ended at shutdown"
    );
    third.stop().await;
}
