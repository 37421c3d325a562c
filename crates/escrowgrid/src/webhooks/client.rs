//! One delivery attempt over HTTP/1.1 (hyper), with TLS (rustls, ring, webpki roots) for
//! `https`: resolve and check the target ([`TargetPolicy::connect_addr`]), connect to exactly
//! that address, POST, and judge the status (any 2xx is success). The whole attempt (resolve,
//! connect, TLS, request, response head) is bounded by one timeout. One connection per attempt.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper::header::{CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::domain::WebhookUrl;

use super::target::TargetPolicy;

/// The `User-Agent` of deliveries.
pub const DELIVERY_USER_AGENT: &str = concat!("escrowgrid-webhooks/", env!("CARGO_PKG_VERSION"));

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The receiver's status code, when a response head arrived.
    pub status: Option<u16>,
    /// Why it failed (`None` on success).
    pub error: Option<String>,
}

impl AttemptOutcome {
    /// Whether the receiver answered 2xx.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    fn failed(error: impl Into<String>) -> Self {
        Self {
            status: None,
            error: Some(error.into()),
        }
    }
}

/// Sends signed deliveries.
#[derive(Clone)]
pub struct DeliveryClient {
    policy: TargetPolicy,
    timeout: Duration,
    tls: TlsConnector,
}

impl std::fmt::Debug for DeliveryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryClient")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl DeliveryClient {
    /// A client checking targets with `policy`, giving each attempt `timeout`.
    ///
    /// # Errors
    /// When the TLS configuration cannot be built (the ring provider lacks the default
    /// protocol versions; does not happen with the versions pinned in `Cargo.lock`).
    pub fn new(policy: TargetPolicy, timeout: Duration) -> Result<Self, String> {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| format!("tls configuration: {err}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            policy,
            timeout,
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    /// The target policy (also used by the API at create / update time).
    #[must_use]
    pub fn policy(&self) -> &TargetPolicy {
        &self.policy
    }

    /// POSTs `body` with `headers` to `url`, once.
    pub async fn post(
        &self,
        url: &WebhookUrl,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> AttemptOutcome {
        match tokio::time::timeout(self.timeout, self.attempt(url, headers, body)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                AttemptOutcome::failed(format!("timed out after {} ms", self.timeout.as_millis()))
            }
        }
    }

    async fn attempt(
        &self,
        url: &WebhookUrl,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> AttemptOutcome {
        let addr = match self.policy.connect_addr(url).await {
            Ok(addr) => addr,
            Err(err) => return AttemptOutcome::failed(err.to_string()),
        };
        let tcp = match TcpStream::connect(addr).await {
            Ok(tcp) => tcp,
            Err(err) => return AttemptOutcome::failed(format!("connect to {addr}: {err}")),
        };
        let _ = tcp.set_nodelay(true);
        let request = match build_request(url, headers, body) {
            Ok(request) => request,
            Err(err) => return AttemptOutcome::failed(err),
        };
        if !url.tls {
            return exchange(tcp, request).await;
        }
        let name = match ServerName::try_from(url.host.clone()) {
            Ok(name) => name,
            Err(_) => return AttemptOutcome::failed("invalid TLS server name"),
        };
        match self.tls.connect(name, tcp).await {
            Ok(tls) => exchange(tls, request).await,
            Err(err) => AttemptOutcome::failed(format!("tls handshake: {err}")),
        }
    }
}

fn build_request(
    url: &WebhookUrl,
    headers: &[(&str, String)],
    body: Bytes,
) -> Result<Request<Full<Bytes>>, String> {
    let default_port = if url.tls { 443 } else { 80 };
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    let host = if url.port == default_port {
        host
    } else {
        format!("{host}:{}", url.port)
    };
    let mut builder = Request::post(url.path_and_query.as_str())
        .header(HOST, host)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, DELIVERY_USER_AGENT);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder
        .body(Full::new(body))
        .map_err(|err| format!("invalid request: {err}"))
}

/// Sends one request on a fresh connection and reads the response head.
async fn exchange<S>(stream: S, request: Request<Full<Bytes>>) -> AttemptOutcome
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
            Ok(parts) => parts,
            Err(err) => return AttemptOutcome::failed(format!("http handshake: {err}")),
        };
    let send = async move { sender.send_request(request).await };
    tokio::pin!(connection);
    tokio::pin!(send);
    let response = tokio::select! {
        response = &mut send => response,
        closed = &mut connection => match closed {
            Ok(()) => return AttemptOutcome::failed("connection closed before a response"),
            Err(err) => return AttemptOutcome::failed(format!("connection error: {err}")),
        },
    };
    match response {
        Ok(response) => {
            let status = response.status();
            AttemptOutcome {
                status: Some(status.as_u16()),
                error: (!status.is_success()).then(|| format!("receiver answered {status}")),
            }
        }
        Err(err) => AttemptOutcome::failed(format!("request failed: {err}")),
    }
}
