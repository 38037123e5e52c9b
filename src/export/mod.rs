//! OTLP span export: owns the exporter built from the standard `OTEL_*` variables, the bounded
//! queue of finished spans waiting to be sent, and the time-boxed flush the lifecycle loop runs
//! before it calls `/extension/event/next`.
//!
//! Why a queue and a budget instead of the SDK's batch processor: the sandbox freezes as soon as
//! the extension asks for the next event, so spans must be sent *before* that call, within a
//! bound the invocation can afford. A flush that fails or runs out of time keeps its spans at the
//! front of the queue; they go out with the next flush (the next thaw, or SHUTDOWN). The queue is
//! bounded: when full, the oldest spans are dropped and counted.
//!
//! Configuration comes from [`ExportSettings`] (read by the `settings` module): whether to export
//! at all, the flush budget and queue bound, and the destination: an OTLP collector over
//! `http/protobuf` or `grpc`, or AWS X-Ray's OTLP endpoint (`LAMBDA_LENS_EXPORT_TARGET=xray`),
//! every request SigV4-signed with the function's credentials (the `xray` module), batches and
//! spans kept within X-Ray's limits (the `xray_limits` module).
//!
//! TLS: `https` endpoints work out of the box with both transports, verified against the bundled
//! Mozilla roots (webpki-roots), with rustls on ring. OTLP/HTTP goes through the hyper client of
//! the `http_client` module; OTLP/gRPC through tonic, given a `ClientTlsConfig` with the webpki
//! roots (tonic's default `ClientTlsConfig` has no roots at all: https would fail every handshake).
//!
//! The exporter's own retries are disabled: a retry inside a flush would spend the budget the
//! invocation is waiting on, and the queue already retries at the next flush.

mod http_client;
mod sigv4;
mod xray;
mod xray_limits;

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig};
use opentelemetry_otlp::{
    Compression, Protocol, RetryPolicy, SpanExporter as OtlpSpanExporter, WithExportConfig,
    WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use opentelemetry_sdk::Resource;
use tokio::time::Instant;

use self::http_client::{CaCertificates, OtlpHttpClient};
use self::sigv4::Signer;
use self::xray::SigningHttpClient;
pub use self::xray::XrayConfigError;
use self::xray_limits::{Fit, XrayLimits};
pub use self::xray_limits::{
    TRUNCATION_MARKER, XRAY_MAX_BATCH_SPANS, XRAY_MAX_REQUEST_BYTES, XRAY_MAX_SPAN_BYTES,
};
use crate::settings::{ExportSettings, ExportTarget, OtlpSettings, Transport};

/// The most spans sent in one export request to an OTLP collector (collectors commonly cap
/// requests); X-Ray's own limits are [`XRAY_MAX_BATCH_SPANS`] and [`XRAY_MAX_REQUEST_BYTES`].
pub const MAX_BATCH_SPANS: usize = 512;
/// After the first drop, a drop warning is logged each time the total crosses a multiple of this.
const DROP_WARNING_INTERVAL: u64 = 1000;

/// Why the exporter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The OTLP configuration was rejected (e.g. an endpoint that is not a URL).
    #[error("cannot build the OTLP span exporter: {0}")]
    Build(String),
    /// `LAMBDA_LENS_EXPORT_TARGET=xray` without what X-Ray export needs.
    #[error(transparent)]
    Xray(#[from] XrayConfigError),
}

/// What one [`Exporter::flush`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushOutcome {
    /// Spans the collector acknowledged.
    pub exported: usize,
    /// Spans still queued afterwards (for the next flush); zero after a complete flush.
    pub requeued: usize,
    /// Why the flush stopped early: the export error, or that the budget ran out.
    pub error: Option<String>,
    /// How long the flush took.
    pub elapsed: Duration,
}

/// The OTLP span exporter with its bounded retry queue.
pub struct Exporter {
    inner: OtlpSpanExporter,
    target: ExportTarget,
    /// X-Ray's batch and span size limits; `None` for OTLP collectors.
    limits: Option<XrayLimits>,
    transport: Transport,
    endpoint: String,
    queue: VecDeque<SpanData>,
    capacity: usize,
    flush_timeout: Duration,
    dropped: u64,
}

impl fmt::Debug for Exporter {
    // The queue's spans are left out: thousands of them would drown any log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exporter")
            .field("target", &self.target)
            .field("transport", &self.transport)
            .field("endpoint", &self.endpoint)
            .field("queued", &self.queue.len())
            .field("capacity", &self.capacity)
            .field("flush_timeout", &self.flush_timeout)
            .field("dropped", &self.dropped)
            .finish()
    }
}

impl Exporter {
    /// Builds the exporter for `settings`, sending `resource` with every span; `Ok(None)` when
    /// export is disabled.
    ///
    /// Must be called within a Tokio runtime (the gRPC channel spawns its worker task). The
    /// endpoint is not contacted here: connections are made by the first flush.
    ///
    /// opentelemetry-otlp also reads `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` from the process
    /// environment and adds those headers; in the extension they are the ones the settings read.
    ///
    /// For X-Ray, missing credentials or region are an [`ExportError::Xray`].
    pub fn new(settings: &ExportSettings, resource: Resource) -> Result<Option<Self>, ExportError> {
        if settings.disabled {
            return Ok(None);
        }
        let destination = &settings.destination;
        let mut config = destination.otlp.clone();
        let signer = match destination.target {
            ExportTarget::Otlp => None,
            ExportTarget::Xray => {
                let signer = xray::configure(&destination.xray, &mut config)?;
                tracing::debug!(
                    endpoint = %config.endpoint,
                    region = signer.region(),
                    "exporting straight to X-Ray, SigV4-signed"
                );
                Some(signer)
            }
        };
        let ca = CaCertificates::load_or_warn(config.certificate.as_deref());
        let mut inner = build_exporter(&config, ca.as_ref(), signer)?;
        inner.set_resource(&resource);
        Ok(Some(Self {
            inner,
            target: destination.target,
            limits: (destination.target == ExportTarget::Xray).then(|| XrayLimits::new(&resource)),
            transport: config.transport,
            endpoint: config.endpoint,
            queue: VecDeque::new(),
            capacity: settings.queue_capacity,
            flush_timeout: settings.flush_timeout,
            dropped: 0,
        }))
    }

    /// Where spans go: an OTLP collector or X-Ray.
    pub fn target(&self) -> ExportTarget {
        self.target
    }

    /// The protocol spans are sent with.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Where spans are sent: the full URL for OTLP/HTTP, the server URL for gRPC.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Replaces the resource sent with every span (e.g. once `faas.instance` is known); it
    /// applies to queued spans too, as the resource is attached when a batch is sent.
    pub fn set_resource(&mut self, resource: Resource) {
        if let Some(limits) = &mut self.limits {
            *limits = XrayLimits::new(&resource);
        }
        self.inner.set_resource(&resource);
    }

    /// Queues finished spans for the next flush. If the queue would exceed its capacity, the
    /// oldest spans are dropped and counted ([`Exporter::dropped`]); a warning is logged at the
    /// first drop and then every 1000 drops.
    ///
    /// For X-Ray, a span over [`XRAY_MAX_SPAN_BYTES`] has its longest string attribute values
    /// truncated (ending with [`TRUNCATION_MARKER`]) until it fits; one that still does not fit
    /// is dropped, counted and logged.
    pub fn enqueue(&mut self, mut spans: Vec<SpanData>) {
        if self.limits.is_some() {
            spans.retain_mut(|span| match XrayLimits::fit(span) {
                Fit::Unchanged => true,
                Fit::Truncated => {
                    tracing::debug!(span = %span.name, "truncated string attributes to fit X-Ray's span size limit");
                    true
                }
                Fit::TooLarge(bytes) => {
                    self.dropped += 1;
                    tracing::warn!(
                        span = %span.name,
                        bytes,
                        limit = XRAY_MAX_SPAN_BYTES,
                        dropped_total = self.dropped,
                        "dropped a span over X-Ray's size limit even with its string attributes truncated"
                    );
                    false
                }
            });
        }
        self.queue.extend(spans);
        let excess = self.queue.len().saturating_sub(self.capacity);
        if excess == 0 {
            return;
        }
        self.queue.drain(..excess);
        let before = self.dropped;
        self.dropped += excess as u64;
        if before == 0 || before / DROP_WARNING_INTERVAL != self.dropped / DROP_WARNING_INTERVAL {
            tracing::warn!(
                dropped_total = self.dropped,
                capacity = self.capacity,
                "span export queue full (collector unreachable or too slow?): dropped the oldest spans"
            );
        }
    }

    /// Sends the queued spans, in batches of at most [`MAX_BATCH_SPANS`] (for X-Ray: at most
    /// [`XRAY_MAX_BATCH_SPANS`] and [`XRAY_MAX_REQUEST_BYTES`]), within
    /// `min(budget, flush_timeout)`; callers pass the time they can afford (e.g. what is left
    /// before a SHUTDOWN deadline) and the configured flush timeout is applied here, in one place.
    ///
    /// Spans leave the queue only once the collector acknowledged them: after an error or when
    /// the budget runs out (the request in flight is cancelled) they stay at the front of the
    /// queue for the next flush, and so they do if this future is dropped. Never blocks the
    /// thread, and returns within the budget plus scheduling delay.
    pub async fn flush(&mut self, budget: Duration) -> FlushOutcome {
        let budget = budget.min(self.flush_timeout);
        let started = Instant::now();
        let deadline = started + budget;
        let mut exported = 0;
        let mut error = None;
        while !self.queue.is_empty() {
            let count = match &self.limits {
                Some(limits) => limits.batch_len(&self.queue),
                None => self.queue.len().min(MAX_BATCH_SPANS),
            };
            // Export consumes its batch, so it gets copies and the queue keeps the originals.
            let batch: Vec<SpanData> = self.queue.range(..count).cloned().collect();
            match tokio::time::timeout_at(deadline, self.inner.export(batch)).await {
                Ok(Ok(())) => {
                    self.queue.drain(..count);
                    exported += count;
                }
                Ok(Err(export_error)) => {
                    let text = export_error.to_string();
                    if rejected_for_good(&text) {
                        // A batch the collector refuses as such (400, 413, ...) would block the
                        // queue forever if retried: drop it, count it, go on with the rest.
                        self.queue.drain(..count);
                        self.dropped += count as u64;
                        tracing::warn!(spans = count, error = %text, "collector rejected a batch; dropped");
                        error = Some(text);
                        continue;
                    }
                    error = Some(text);
                    break;
                }
                Err(_elapsed) => {
                    error = Some(format!("export did not finish within {budget:?}"));
                    break;
                }
            }
        }
        FlushOutcome {
            exported,
            requeued: self.queue.len(),
            error,
            elapsed: started.elapsed(),
        }
    }

    /// Spans waiting for export.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Spans dropped since start-up: because the queue was full, or (X-Ray) because a span was
    /// over X-Ray's size limit even with its string attributes truncated.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Whether an export error is an HTTP 4xx answer that retrying cannot fix: a malformed or oversized
/// request. Not 408 and 429 (come back later), nor 401 and 403 (credentials or permissions, fixed by
/// configuration, after which the queue should drain). opentelemetry-otlp reports answers as
/// "... status code: NNN".
fn rejected_for_good(error: &str) -> bool {
    let Some(at) = error.find("status code: ") else {
        return false;
    };
    let code: String = error[at + "status code: ".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    matches!(code.parse::<u16>(), Ok(c) if (400..500).contains(&c) && ![401, 403, 408, 429].contains(&c))
}

/// Builds opentelemetry-otlp's exporter with everything set explicitly (so it does not fall back
/// to its own reading of the process environment), retries off, and our TLS setup; with a
/// `signer`, every OTLP/HTTP request is SigV4-signed.
fn build_exporter(
    config: &OtlpSettings,
    ca: Option<&CaCertificates>,
    signer: Option<Signer>,
) -> Result<OtlpSpanExporter, ExportError> {
    let headers = header_map(&config.headers);
    let built = match config.transport {
        Transport::HttpProtobuf => {
            let headers = headers
                .iter()
                .filter_map(|(name, value)| {
                    let value = value.to_str().ok()?;
                    // `with_headers` percent-decodes again; escaping `%` keeps the decoded
                    // values intact.
                    Some((name.as_str().to_owned(), value.replace('%', "%25")))
                })
                .collect();
            let client = OtlpHttpClient::new(config.timeout, ca);
            let builder = OtlpSpanExporter::builder().with_http();
            let builder = match signer {
                Some(signer) => builder.with_http_client(SigningHttpClient::new(client, signer)),
                None => builder.with_http_client(client),
            };
            let builder = builder
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(config.endpoint.as_str())
                .with_timeout(config.timeout)
                .with_headers(headers)
                .with_retry_policy(RetryPolicy::disabled());
            if config.gzip {
                builder.with_compression(Compression::Gzip).build()
            } else {
                builder.build()
            }
        }
        Transport::Grpc => {
            // tonic's channel spawns its worker on the current runtime and panics without one.
            tokio::runtime::Handle::try_current().map_err(|_| {
                ExportError::Build("the gRPC exporter must be built within a Tokio runtime".into())
            })?;
            let builder = OtlpSpanExporter::builder()
                .with_tonic()
                .with_endpoint(config.endpoint.as_str())
                .with_timeout(config.timeout)
                // Used only for https endpoints; plain http ones connect without TLS.
                .with_tls_config(grpc_tls_config(ca))
                .with_metadata(MetadataMap::from_headers(headers))
                .with_retry_policy(RetryPolicy::disabled());
            if config.gzip {
                builder.with_compression(Compression::Gzip).build()
            } else {
                builder.build()
            }
        }
    };
    built.map_err(|error| ExportError::Build(error.to_string()))
}

/// TLS for OTLP/gRPC: the bundled Mozilla roots (tonic's default has none) and the extra CAs.
fn grpc_tls_config(ca: Option<&CaCertificates>) -> ClientTlsConfig {
    let tls = ClientTlsConfig::new().with_webpki_roots();
    match ca {
        Some(ca) => tls.ca_certificate(Certificate::from_pem(&ca.pem)),
        None => tls,
    }
}

/// The configured headers as an HTTP header map; invalid names or values are skipped with a
/// warning (opentelemetry-otlp would skip them silently).
fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                map.insert(name, value);
            }
            _ => {
                tracing::warn!(header = %name, "ignoring an OTLP header that is not a valid HTTP header")
            }
        }
    }
    map
}

#[cfg(test)]
mod rejection_tests {
    use super::rejected_for_good;

    #[test]
    fn only_permanent_http_rejections_drop_a_batch() {
        for (text, drop) in [
            ("HTTP export failed with status code: 400", true),
            (
                "Operation failed: HTTP export failed with status code: 413",
                true,
            ),
            ("HTTP export failed with status code: 429", false),
            ("HTTP export failed with status code: 408", false),
            ("HTTP export failed with status code: 403", false),
            ("HTTP export failed with status code: 503", false),
            ("HTTP export failed: network error", false),
            ("export did not finish within 500ms", false),
        ] {
            assert_eq!(rejected_for_good(text), drop, "{text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_tls_uses_the_bundled_webpki_roots() {
        // ClientTlsConfig exposes its root selection only through Debug.
        let debug = format!("{:?}", grpc_tls_config(None));
        assert!(debug.contains("with_webpki_roots: true"), "{debug}");
    }

    #[test]
    fn invalid_headers_are_skipped() {
        let map = header_map(&[
            ("x-ok".to_owned(), "1".to_owned()),
            ("bad name".to_owned(), "2".to_owned()),
            ("x-bad-value".to_owned(), "line\nbreak".to_owned()),
        ]);
        assert_eq!(map.len(), 1);
        assert_eq!(map["x-ok"], "1");
    }
}
