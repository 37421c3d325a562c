//! Process-wide tracing setup: human text on a terminal, JSON lines otherwise (`LOG_FORMAT`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};
use crate::{Error, Result};

/// Installs the global tracing subscriber for the binary.
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
pub fn init(settings: &LogSettings) -> Result<()> {
    let filter = EnvFilter::try_new(&settings.filter).map_err(|e| Error::Config {
        key: "RUST_LOG".to_owned(),
        message: e.to_string(),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let interactive = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let installed = match settings.format.resolve(interactive) {
        LogFormat::Json | LogFormat::Auto => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stdout().is_terminal())
            .compact()
            .try_init(),
    };
    installed.map_err(|e| Error::Config {
        key: "LOG_FORMAT".to_owned(),
        message: format!("cannot install the log subscriber: {e}"),
    })
}
