//! Running the HTTP server: open the store, build the router, serve until shutdown, drain.
//!
//! [`serve`] takes an already bound listener and a shutdown future, so tests and the load
//! generator start the real server on `127.0.0.1:0` exactly as the binary does.
//!
//! Shutdown: when the future resolves, the listener stops accepting, idle keep-alive
//! connections are closed and in-flight requests run to completion; if they have not finished
//! within `SHUTDOWN_TIMEOUT_MS`, the remaining connections are dropped. Then the database pool
//! is closed.

mod app;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

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
    let app::App {
        router,
        resources,
        state,
    } = app::App::open(&settings).await?;
    let addr = listener.local_addr()?;
    info!(%addr, store_backend = settings.store.backend.as_str(), "listening");

    let (fired_tx, fired_rx) = oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        info!("shutdown requested, draining in-flight requests");
        state.close_event_streams();
        let _ = fired_tx.send(());
    };
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            debug!(error = %e, "cannot set tcp_nodelay");
        }
    });
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .into_future();
    let grace = settings.shutdown_timeout();
    let deadline = async move {
        match fired_rx.await {
            Ok(()) => tokio::time::sleep(grace).await,
            Err(_) => std::future::pending().await,
        }
    };

    let result = tokio::select! {
        served = server => served.map_err(crate::Error::from),
        () = deadline => {
            warn!(grace_ms = settings.server.shutdown_timeout_ms, "drain deadline passed, dropping remaining connections");
            Ok(())
        }
    };
    resources.close().await;
    info!("server stopped");
    result
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
