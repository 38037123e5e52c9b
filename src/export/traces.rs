//! The trace signal: finished spans ([`SpanData`]) waiting in their queue, cut into requests and
//! sent through opentelemetry-otlp's span exporter.
//!
//! Bounds: the queue holds at most `LAMBDA_LENS_EXPORT_QUEUE_SPANS` spans (see `queue`); a
//! request to an OTLP collector holds at most [`MAX_BATCH_SPANS`] spans; to X-Ray, at most
//! `XRAY_MAX_BATCH_SPANS` spans and `XRAY_MAX_REQUEST_BYTES`, and a span over
//! [`XRAY_MAX_SPAN_BYTES`] is cut down (or dropped) before it is queued (see `xray`).

use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use opentelemetry_sdk::Resource;

use super::flush::{self, BatchExport, Deadline, FlushOutcome};
use super::queue::Queue;
use super::xray::{Fit, XrayLimits, XRAY_MAX_SPAN_BYTES};

/// The most spans sent in one export request to an OTLP collector (collectors commonly cap
/// requests); X-Ray's own limits are [`XRAY_MAX_BATCH_SPANS`](crate::export::XRAY_MAX_BATCH_SPANS)
/// and [`XRAY_MAX_REQUEST_BYTES`](crate::export::XRAY_MAX_REQUEST_BYTES).
pub const MAX_BATCH_SPANS: usize = 512;

/// Spans on their way out: the queue and how its batches are sent.
pub(crate) struct Traces {
    queue: Queue<SpanData>,
    export: SpanExport,
}

/// How queued spans are cut into requests and sent.
struct SpanExport {
    exporter: SpanExporter,
    /// X-Ray's batch and span size limits; `None` for OTLP collectors.
    limits: Option<XrayLimits>,
}

impl Traces {
    /// An empty queue of at most `capacity` spans sent through `exporter` with `resource`;
    /// `xray` applies X-Ray's limits.
    pub(crate) fn new(
        mut exporter: SpanExporter,
        resource: &Resource,
        xray: bool,
        capacity: usize,
    ) -> Self {
        exporter.set_resource(resource);
        Self {
            queue: Queue::new(capacity),
            export: SpanExport {
                exporter,
                limits: xray.then(|| XrayLimits::new(resource)),
            },
        }
    }

    /// Replaces the resource sent with every span, queued ones included (the resource is
    /// attached when a batch is sent).
    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        if let Some(limits) = &mut self.export.limits {
            *limits = XrayLimits::new(resource);
        }
        self.export.exporter.set_resource(resource);
    }

    /// Queues finished spans, cut down to X-Ray's span limit first when X-Ray is the target.
    pub(crate) fn enqueue(&mut self, mut spans: Vec<SpanData>) {
        if self.export.limits.is_some() {
            spans.retain_mut(|span| match XrayLimits::fit(span) {
                Fit::Unchanged => true,
                Fit::Truncated => {
                    tracing::debug!(span = %span.name, "truncated string attributes to fit X-Ray's span size limit");
                    true
                }
                Fit::TooLarge(bytes) => {
                    let dropped_total = self.queue.count_dropped(1);
                    tracing::warn!(
                        span = %span.name,
                        bytes,
                        limit = XRAY_MAX_SPAN_BYTES,
                        dropped_total,
                        "dropped a span over X-Ray's size limit even with its string attributes truncated"
                    );
                    false
                }
            });
        }
        if let Some(overflow) = self.queue.push(spans) {
            tracing::warn!(
                dropped_total = overflow.dropped_total,
                capacity = overflow.capacity,
                "span export queue full (collector unreachable or too slow?): dropped the oldest spans"
            );
        }
    }

    /// Sends the queued spans until `deadline`.
    pub(crate) async fn flush(&mut self, deadline: Deadline) -> FlushOutcome {
        flush::drain(&self.export, &mut self.queue, deadline).await
    }

    /// Spans waiting for export.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The most spans the queue holds.
    pub(crate) fn capacity(&self) -> usize {
        self.queue.capacity()
    }

    /// Spans dropped since start-up.
    pub(crate) fn dropped(&self) -> u64 {
        self.queue.dropped()
    }
}

impl BatchExport for SpanExport {
    type Item = SpanData;

    fn batch_len(&self, queued: &Queue<SpanData>) -> usize {
        match &self.limits {
            Some(limits) => limits.batch_len(queued.iter()),
            None => queued.len().min(MAX_BATCH_SPANS),
        }
    }

    async fn send(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.exporter.export(batch).await
    }

    fn warn_rejected(&self, count: usize, error: &str) {
        tracing::warn!(spans = count, %error, "collector rejected a batch; dropped");
    }
}
