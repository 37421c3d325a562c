//! Process-wide tracing setup: human text on a terminal, JSON lines otherwise (`LOG_FORMAT`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogFormat, LogSettings};
use crate::{Error, Result};

/// Installs the global tracing subscriber for the binary, with the OTLP exporter when built
/// with the `otlp` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
///
/// Events go to stdout, as text when `LOG_FORMAT` is `text`, or `auto` (the default) and
/// both stdout and stderr are terminals, else one JSON object per line; filtered by
/// `RUST_LOG`-style directives. Deciding on stdout too (not only stderr, where the generated
/// root key is printed) keeps `escrowgrid serve | jq` on JSON. Nothing here logs secrets:
/// settings are logged through their redacting `Debug`.
///
/// # Errors
///
/// [`Error::Config`] when the filter does not parse or a subscriber is already installed.
pub fn init(settings: &LogSettings) -> Result<Telemetry> {
    let filter = EnvFilter::try_new(&settings.filter).map_err(|e| Error::Config {
        key: "RUST_LOG".to_owned(),
        message: e.to_string(),
    })?;
    let interactive = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let fmt = match settings.format.resolve(interactive) {
        LogFormat::Json | LogFormat::Auto => tracing_subscriber::fmt::layer()
            .with_target(true)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_target(true)
            .with_ansi(std::io::stdout().is_terminal())
            .compact()
            .boxed(),
    };
    let registry = tracing_subscriber::registry().with(filter).with(fmt);
    #[cfg(feature = "otlp")]
    if crate::observability::otlp::configured() {
        let (otlp, guard) =
            crate::observability::otlp::layer(None).map_err(|message| Error::Config {
                key: "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                message,
            })?;
        registry.with(otlp).try_init().map_err(not_installed)?;
        return Ok(Telemetry { _otlp: Some(guard) });
    }
    registry.try_init().map_err(not_installed)?;
    Ok(Telemetry::default())
}

/// Keeps the trace exporter (feature `otlp`) running until the process ends; dropping it
/// flushes the spans not yet sent.
#[derive(Debug, Default)]
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    _otlp: Option<crate::observability::otlp::OtlpGuard>,
}

fn not_installed(e: impl std::fmt::Display) -> Error {
    Error::Config {
        key: "LOG_FORMAT".to_owned(),
        message: format!("cannot install the log subscriber: {e}"),
    }
}
