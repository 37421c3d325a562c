//! OTLP trace export (cargo feature `otlp`, off by default): the spans described in
//! `docs/OBSERVABILITY.md` (request → store → SQL) sent as protobuf over HTTP to an
//! OpenTelemetry collector.
//!
//! The binary enables it when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the exporter reads the standard variables
//! itself (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, ...), and
//! `OTEL_SERVICE_NAME` overrides the service name `escrowgrid`. Spans are batched on the
//! SDK's own thread, so exporting never blocks a request.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// Whether the environment asks for OTLP export.
#[must_use]
pub fn configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

/// Flushes and stops the exporter when dropped (at process exit).
#[derive(Debug)]
pub struct OtlpGuard {
    provider: SdkTracerProvider,
}

impl OtlpGuard {
    /// Exports every span ended so far; blocks until the collector answered.
    ///
    /// # Errors
    ///
    /// The exporter's error, as text.
    pub fn flush(&self) -> Result<(), String> {
        self.provider.force_flush().map_err(|e| e.to_string())
    }
}

impl Drop for OtlpGuard {
    fn drop(&mut self) {
        if let Err(err) = self.provider.shutdown() {
            tracing::warn!(error = %err, "otlp exporter shutdown");
        }
    }
}

/// A tracing layer exporting spans over OTLP/HTTP, and its guard. `endpoint` is the base URL
/// of the collector (`http://host:4318`, `/v1/traces` is appended); `None` reads the standard
/// environment variables.
///
/// # Errors
///
/// The exporter cannot be built (e.g. an invalid endpoint), as text.
pub fn layer<S>(endpoint: Option<&str>) -> Result<(impl Layer<S>, OtlpGuard), String>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let mut builder = opentelemetry_otlp::SpanExporter::builder().with_http();
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')));
    }
    let exporter = builder.build().map_err(|e| e.to_string())?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("escrowgrid").build())
        .build();
    let tracer = provider.tracer("escrowgrid");
    let layer = tracing_opentelemetry::layer().with_tracer(tracer);
    Ok((layer, OtlpGuard { provider }))
}
