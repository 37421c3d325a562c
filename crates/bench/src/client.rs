//! A minimal HTTP/1.1 keep-alive client: one TCP connection per simulated user.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::BoxError;

/// One keep-alive connection to the server.
#[derive(Debug)]
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
    api_key: String,
}

/// A response: status, body and how long the request took.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// The whole body.
    pub body: Bytes,
    /// Time from sending the request to the last body byte.
    pub elapsed: Duration,
}

impl Reply {
    /// Parses the body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, BoxError> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

impl Conn {
    /// Connects to `authority` (`host:port`) and authenticates every request with `api_key`.
    pub async fn connect(authority: &str, api_key: &str) -> Result<Self, BoxError> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "client connection ended");
            }
        });
        Ok(Self {
            sender,
            authority: authority.to_owned(),
            api_key: api_key.to_owned(),
        })
    }

    /// Sends one request with an optional JSON body and reads the whole response.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, BoxError> {
        let bytes = body.map(serde_json::to_vec).transpose()?.map(Bytes::from);
        self.send_bytes(method, path, bytes).await
    }

    /// Sends one request with an optional, already serialized JSON body.
    pub async fn send_bytes(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Reply, BoxError> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority)
            .header("x-api-key", &self.api_key);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(body.unwrap_or_default()))?;
        let started = Instant::now();
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            body,
            elapsed: started.elapsed(),
        })
    }
}
