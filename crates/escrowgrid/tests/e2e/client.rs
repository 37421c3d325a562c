//! A small HTTP/1.1 keep-alive client for the end-to-end tests (hyper's connection API).

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// One keep-alive connection, optionally authenticated with an API key.
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    key: Option<String>,
}

/// A complete response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// A string field of the JSON body; panics with the body when absent.
    pub fn str(&self, field: &str) -> String {
        self.body
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string {field} in {}", self.body))
            .to_owned()
    }

    /// Asserts the status, showing the body on failure.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }
}

impl Client {
    /// Connects to `addr`; requests carry `X-API-KEY: key` when a key is given.
    pub async fn connect(addr: SocketAddr, key: Option<&str>) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect to server");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) = handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(connection);
        Self {
            sender,
            addr,
            key: key.map(str::to_owned),
        }
    }

    /// GET `path`.
    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    /// POST `body` as JSON to `path`.
    pub async fn post(&mut self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    /// Sends one request with extra headers; panics on transport errors.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.try_send(method, path, body, headers)
            .await
            .unwrap_or_else(|e| panic!("request {path} failed: {e}"))
    }

    /// Sends one request with extra headers.
    pub async fn try_send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, hyper::Error> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.addr.to_string());
        if let Some(key) = &self.key {
            request = request.header("x-api-key", key);
        }
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let bytes = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let request = request.body(Full::new(bytes)).expect("valid request");
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let raw = response.into_body().collect().await?.to_bytes();
        let body = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()))
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}
