//! OTLP collectors as the export target (the default; X-Ray export reuses this machinery).
//!
//! What a collector accepts: for OTLP/HTTP, a protobuf export request POSTed to the signal's full
//! URL (for traces `…/v1/traces`; the settings resolve it), gzip-compressed or not, with the
//! configured headers; for OTLP/gRPC, the same message sent to the signal's export service at
//! the server URL, the headers as metadata. A failed request's HTTP status tells a batch worth
//! sending again from one refused for good; the flush policy acts on it.
//!
//! TLS: `https` endpoints work out of the box with both transports, verified against the bundled
//! Mozilla roots plus the CAs of `OTEL_EXPORTER_OTLP_CERTIFICATE` (`tls`), with rustls on ring.
//!
//! - `collector_http`: the hyper client OTLP/HTTP requests go through;
//! - `http` and `grpc`: an opentelemetry-otlp exporter builder set up for each transport;
//! - `headers`: the configured headers, checked once for both;
//! - `tls`: what is trusted.
//!
//! Signals: each signal's exporter is built from its own settings and [`Channel`] (the
//! `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_*` variables may differ per signal). Traces use
//! [`span_exporter`]; metrics and logs add their own builder function beside it, passing
//! opentelemetry-otlp's metric or log builder to the same `http` and `grpc` setup.

mod collector_http;
mod grpc;
mod headers;
mod http;
mod tls;

use std::sync::Arc;

use opentelemetry_http::HttpClient;
use opentelemetry_otlp::SpanExporter;

pub(crate) use self::collector_http::CollectorHttpClient;
pub(crate) use self::tls::CaCertificates;
use super::ExportError;
use crate::settings::OtlpSettings;

/// How one signal's requests travel, with what the transport needs.
pub(crate) enum Channel {
    /// OTLP/HTTP through this client: the [`CollectorHttpClient`], or a wrapper around it (X-Ray
    /// signs every request).
    Http(Arc<dyn HttpClient>),
    /// OTLP/gRPC through tonic, trusting these CAs besides the bundled roots.
    Grpc(Option<CaCertificates>),
}

/// Builds opentelemetry-otlp's span exporter for `config` over `channel`.
///
/// Must be called within a Tokio runtime for gRPC (the channel spawns its worker task). The
/// endpoint is not contacted here: connections are made by the first flush.
pub(crate) fn span_exporter(
    config: &OtlpSettings,
    channel: &Channel,
) -> Result<SpanExporter, ExportError> {
    let built = match channel {
        Channel::Http(client) => {
            http::configure(SpanExporter::builder().with_http(), config, client).build()
        }
        Channel::Grpc(ca) => {
            grpc::configure(SpanExporter::builder().with_tonic(), config, ca.as_ref())?.build()
        }
    };
    built.map_err(|error| ExportError::Build(error.to_string()))
}
