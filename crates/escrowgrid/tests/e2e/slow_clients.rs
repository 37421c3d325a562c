//! Issue 13 item 6: slow clients cannot hold connections forever. A client that sends its
//! request head one byte per second is closed by the header read timeout, and connections over
//! `HTTP_MAX_CONNECTIONS` wait until a slot frees. (Memory backend: these are properties of the
//! server's socket handling, the store plays no part.)

use std::time::{Duration, Instant};

use escrowgrid::config::{Secret, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::server::{ROOT_KEY, TestServer};

fn memory_settings(adjust: impl FnOnce(&mut Settings)) -> Settings {
    let mut settings = Settings::default();
    settings.auth.root_api_key = Some(Secret::new(ROOT_KEY.to_owned()));
    adjust(&mut settings);
    settings
}

/// Sends `GET /health` on `stream` and reads the status line.
async fn health_status_line(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .expect("write request");
    let mut buffer = vec![0_u8; 1024];
    let read = stream.read(&mut buffer).await.expect("read response");
    let text = String::from_utf8_lossy(&buffer[..read]).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_one_header_byte_per_second_is_closed_within_the_timeout() {
    let timeout = Duration::from_millis(1500);
    let server = TestServer::start(memory_settings(|s| {
        s.http.header_read_timeout_ms = 1500;
    }))
    .await;
    server.wait_ready().await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    let head = b"GET /health HTTP/1.1\r\nhost: test\r\nx-padding: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed_after = None;
    let mut answer = Vec::new();
    for byte in head {
        if stream.write_all(&[*byte]).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        // Wait one second for the server to close the connection (or answer early).
        let mut buffer = [0_u8; 256];
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buffer)).await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Ok(Ok(read)) => answer.extend_from_slice(&buffer[..read]),
        }
    }
    let closed_after = closed_after.expect("the server never closed the slow connection");
    assert!(
        closed_after < timeout + Duration::from_millis(1500),
        "closed only after {closed_after:?}"
    );
    assert!(
        closed_after >= timeout - Duration::from_millis(100),
        "closed too early, after {closed_after:?}"
    );
    // Whatever hyper wrote before closing, it is not a served request.
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.contains("200 OK"), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_until_a_slot_frees() {
    let server = TestServer::start(memory_settings(|s| {
        s.http.max_connections = 2;
        s.http.header_read_timeout_ms = 60_000;
    }))
    .await;
    server.wait_ready().await;
    // Two keep-alive connections, each with a served request, hold both slots.
    let mut first = TcpStream::connect(server.addr).await.expect("connect");
    assert_eq!(health_status_line(&mut first).await, "HTTP/1.1 200 OK");
    let mut second = TcpStream::connect(server.addr).await.expect("connect");
    assert_eq!(health_status_line(&mut second).await, "HTTP/1.1 200 OK");

    // A third connection is queued by the kernel but not served while both slots are held.
    let mut third = TcpStream::connect(server.addr).await.expect("connect");
    let waiting = tokio::spawn(async move {
        let status = health_status_line(&mut third).await;
        (status, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "a connection over the cap was served"
    );

    // Closing one connection frees a slot: the third is served.
    let freed_at = Instant::now();
    drop(first);
    let (status, served_at) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the queued connection was served within 10 s")
        .expect("task");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(served_at >= freed_at);
    drop(second);
    server.stop().await;
}
