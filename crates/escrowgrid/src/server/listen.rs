//! The accept loop: hyper HTTP/1 connections with a header read timeout and a cap on the
//! connections served at once, and graceful shutdown (issue 13: slow clients used to hold
//! connections forever, since `axum::serve` sets neither).
//!
//! - **Header read timeout** (`HTTP_HEADER_READ_TIMEOUT_MS`): hyper closes a connection that
//!   has not sent a complete request head in time (one header byte per second never gets
//!   there); hyper runs the same timer while a keep-alive connection waits for its next
//!   request, so it is also the idle limit.
//! - **Connection cap** (`HTTP_MAX_CONNECTIONS`): a connection is accepted only with a free
//!   slot; over the cap, new connections wait in the kernel's listen backlog (and are served
//!   as soon as a slot frees), so file descriptors stay bounded.
//! - **Shutdown**: when `shutdown` resolves, accepting stops, idle connections are closed,
//!   in-flight requests run to completion, and whatever is left after `grace` is dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tracing::{debug, warn};

/// How long the accept loop pauses after a failed `accept` (e.g. out of file descriptors),
/// so that it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// The connection limits of [`run`].
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time to send a complete request head; also the keep-alive idle limit.
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains for at most `grace`.
pub async fn run<F>(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: F,
    grace: Duration,
) where
    F: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (tcp, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    warn!(error = %err, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        if let Err(err) = tcp.set_nodelay(true) {
            debug!(error = %err, "cannot set tcp_nodelay");
        }
        let service = router
            .clone()
            .map_request(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(remote));
                req
            });
        let connection =
            builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                debug!(error = %err, %remote, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            warn!(grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX), "drain deadline passed, dropping remaining connections");
        }
    }
}
