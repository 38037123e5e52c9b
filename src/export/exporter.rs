//! The exporter the owner task holds: built once from [`ExportSettings`] for the chosen target, it
//! queues finished spans and flushes them within a time budget.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

use super::flush::{Deadline, FlushOutcome};
use super::otlp::{self, CaCertificates, Channel, CollectorHttpClient};
use super::traces::Traces;
use super::xray::{self, Signer, SigningHttpClient, XrayConfigError};
use crate::settings::{ExportSettings, ExportTarget, OtlpSettings, Transport};

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

/// The OTLP span exporter with its bounded retry queue.
pub struct Exporter {
    target: ExportTarget,
    transport: Transport,
    endpoint: String,
    flush_timeout: Duration,
    traces: Traces,
}

impl fmt::Debug for Exporter {
    // The queue's spans are left out: thousands of them would drown any log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exporter")
            .field("target", &self.target)
            .field("transport", &self.transport)
            .field("endpoint", &self.endpoint)
            .field("queued", &self.traces.queued())
            .field("capacity", &self.traces.capacity())
            .field("flush_timeout", &self.flush_timeout)
            .field("dropped", &self.traces.dropped())
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
        let channel = channel(&config, signer);
        let exporter = otlp::span_exporter(&config, &channel)?;
        let xray = destination.target == ExportTarget::Xray;
        Ok(Some(Self {
            target: destination.target,
            transport: config.transport,
            endpoint: config.endpoint,
            flush_timeout: settings.flush_timeout,
            traces: Traces::new(exporter, &resource, xray, settings.queue_capacity),
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
        self.traces.set_resource(&resource);
    }

    /// Queues finished spans for the next flush. If the queue would exceed its capacity, the
    /// oldest spans are dropped and counted ([`Exporter::dropped`]); a warning is logged at the
    /// first drop and then every 1000 drops.
    ///
    /// For X-Ray, a span over [`XRAY_MAX_SPAN_BYTES`](super::XRAY_MAX_SPAN_BYTES) has its longest
    /// string attribute values truncated (ending with [`TRUNCATION_MARKER`](super::TRUNCATION_MARKER))
    /// until it fits; one that still does not fit is dropped, counted and logged.
    pub fn enqueue(&mut self, spans: Vec<SpanData>) {
        self.traces.enqueue(spans);
    }

    /// Sends the queued spans, in batches of at most [`MAX_BATCH_SPANS`](super::MAX_BATCH_SPANS)
    /// (for X-Ray: at most [`XRAY_MAX_BATCH_SPANS`](super::XRAY_MAX_BATCH_SPANS) and
    /// [`XRAY_MAX_REQUEST_BYTES`](super::XRAY_MAX_REQUEST_BYTES)), within
    /// `min(budget, flush_timeout)`; callers pass the time they can afford (e.g. what is left
    /// before a SHUTDOWN deadline) and the configured flush timeout is applied here, in one place.
    ///
    /// Spans leave the queue only once the collector acknowledged them: after an error or when
    /// the budget runs out (the request in flight is cancelled) they stay at the front of the
    /// queue for the next flush, and so they do if this future is dropped. Never blocks the
    /// thread, and returns within the budget plus scheduling delay.
    pub async fn flush(&mut self, budget: Duration) -> FlushOutcome {
        let deadline = Deadline::start(budget, self.flush_timeout);
        self.traces.flush(deadline).await
    }

    /// Spans waiting for export.
    pub fn queued(&self) -> usize {
        self.traces.queued()
    }

    /// Spans dropped since start-up: because the queue was full, because the collector refused
    /// their batch for good, or (X-Ray) because a span was over X-Ray's size limit even with its
    /// string attributes truncated.
    pub fn dropped(&self) -> u64 {
        self.traces.dropped()
    }
}

/// How requests travel for `config`: OTLP/HTTP through our collector client, signed with
/// `signer` when there is one (X-Ray), or OTLP/gRPC.
fn channel(config: &OtlpSettings, signer: Option<Signer>) -> Channel {
    let ca = CaCertificates::load_or_warn(config.certificate.as_deref());
    match config.transport {
        Transport::HttpProtobuf => {
            let client = CollectorHttpClient::new(config.timeout, ca.as_ref());
            Channel::Http(match signer {
                Some(signer) => Arc::new(SigningHttpClient::new(client, signer)),
                None => Arc::new(client),
            })
        }
        Transport::Grpc => Channel::Grpc(ca),
    }
}
