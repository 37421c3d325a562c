use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::server::{ROOT_KEY, TestServer, postgres_settings};

/// Sends the head of `POST /institutions` with `Expect: 100-continue` and waits for the
/// interim `100 Continue`, which the server sends only once the handler reads the body: from
/// then on the request is in flight. Returns the stream and the body still to send.
async fn start_in_flight_request(server: &TestServer) -> (BufReader<TcpStream>, String) {
    let body = json!({"name": "Drained Bank", "regions": ["US"]}).to_string();
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let head = format!(
        "POST /institutions HTTP/1.1\r\nhost: {}\r\nx-api-key: {ROOT_KEY}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
        server.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .await
        .expect("read interim status");
    assert!(
        line.starts_with("HTTP/1.1 100"),
        "expected 100 Continue, got {line:?}"
    );
    line.clear();
    reader.read_line(&mut line).await.expect("read blank line");
    assert_eq!(line, "\r\n");
    (reader, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_an_in_flight_request_finish() {
    // Arrange
    let db = testkit::database().await;
    let mut server = TestServer::postgres(db.url()).await;
    let (mut stream, body) = start_in_flight_request(&server).await;

    // Act: shut down while the request waits for its body, then send the body
    server.begin_shutdown();
    stream
        .get_mut()
        .write_all(body.as_bytes())
        .await
        .expect("write body");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read response");

    // Assert
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(response.contains("Drained Bank"), "{response}");
    server
        .join()
        .await
        .expect("serve returns cleanly after draining");
    let sql = db.connect().await;
    let stored: i64 = sql
        .query_one(
            "select count(*) from institutions where name = 'Drained Bank'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_on_a_request_that_outlives_the_drain_deadline() {
    // Arrange
    let db = testkit::database().await;
    let mut settings = postgres_settings(db.url());
    settings.server.shutdown_timeout_ms = 200;
    let mut server = TestServer::start(settings).await;
    server.wait_ready().await;
    let (_stream, _body) = start_in_flight_request(&server).await;

    // Act: the body never comes
    server.begin_shutdown();
    let joined = tokio::time::timeout(Duration::from_secs(10), server.join()).await;

    // Assert
    joined
        .expect("serve returned after the drain deadline")
        .expect("serve returns cleanly");
}
