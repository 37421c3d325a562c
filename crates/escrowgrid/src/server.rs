//! Running the HTTP server: open the store, build the router, serve until shutdown, drain.
//!
//! [`serve`] takes an already bound listener and a shutdown future, so tests and the load
//! generator start the real server on `127.0.0.1:0` exactly as the binary does.
//!
//! Shutdown: when the future resolves, the listener stops accepting, idle keep-alive
//! connections are closed and in-flight requests run to completion; if they have not finished
//! within `SHUTDOWN_TIMEOUT_MS`, the remaining connections are dropped. Then the database pool
//! is closed.
//!
//! Connections: `listen` runs hyper directly (not `axum::serve`) to get a header read timeout
//! and a cap on connections served at once (`HTTP_HEADER_READ_TIMEOUT_MS`,
//! `HTTP_MAX_CONNECTIONS`).

mod app;
mod checkpoints;
mod listen;
mod telemetry;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::Result;
use crate::config::Settings;

pub use app::{api_settings, migrate, pg_config};

/// Serves the API on `listener` until `shutdown` resolves, then drains and returns.
///
/// On PostgreSQL the pool is opened first and pending migrations are applied unless
/// `store.migrate_on_start` is false.
///
/// # Errors
///
/// Store connection or migration failures, and I/O errors of the listener.
pub async fn serve<F>(settings: Settings, listener: TcpListener, shutdown: F) -> Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    info!(settings = ?settings, "starting escrowgrid");
    if cfg!(feature = "bench-without-outbox") {
        tracing::warn!(
            "built with the bench-without-outbox feature: position events are not recorded \
             (benchmarks only)"
        );
    }
    let app::App {
        router,
        resources,
        state,
    } = app::App::open(&settings).await?;
    let addr = listener.local_addr()?;
    info!(%addr, store_backend = settings.store.backend.as_str(), "listening");

    let signal = async move {
        shutdown.await;
        info!("shutdown requested, draining in-flight requests");
        state.close_event_streams();
    };
    let limits = listen::ConnectionLimits {
        header_read_timeout: Duration::from_millis(settings.http.header_read_timeout_ms),
        max_connections: settings.http.max_connections,
    };
    listen::run(
        listener,
        router,
        limits,
        signal,
        settings.shutdown_timeout(),
    )
    .await;
    resources.close().await;
    info!("server stopped");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for sigterm");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => info!(signal = "SIGINT", "signal received"),
        () = terminate => info!(signal = "SIGTERM", "signal received"),
    }
}
