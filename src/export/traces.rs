//! The trace signal: finished spans ([`SpanData`]) batched and encoded as an
//! `ExportTraceServiceRequest` (opentelemetry-proto's transform, grouped by resource and scope).
//!
//! Bounds: the queue holds at most `LAMBDA_LENS_EXPORT_QUEUE_SPANS` spans (see `queue`); a
//! request to an OTLP collector holds at most [`MAX_BATCH_SPANS`] spans; to X-Ray, at most
//! `XRAY_MAX_BATCH_SPANS` spans and `XRAY_MAX_REQUEST_BYTES`, and a span over
//! [`XRAY_MAX_SPAN_BYTES`] is cut down (or dropped) before it is queued (see `xray`).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use prost::Message;

use super::outbox::Batcher;
use super::queue::{Batch, Queue};
use super::xray::{Fit, XrayLimits, XRAY_MAX_SPAN_BYTES};

/// The most spans sent in one export request to an OTLP collector (collectors commonly cap
/// requests); X-Ray's own limits are [`XRAY_MAX_BATCH_SPANS`](crate::export::XRAY_MAX_BATCH_SPANS)
/// and [`XRAY_MAX_REQUEST_BYTES`](crate::export::XRAY_MAX_REQUEST_BYTES).
pub const MAX_BATCH_SPANS: usize = 512;

/// How queued spans are cut into requests and encoded.
pub(crate) struct Spans {
    /// Converted once per resource, not per request.
    resource: ResourceAttributesWithSchema,
    /// X-Ray's batch and span size limits; `None` for OTLP collectors.
    limits: Option<XrayLimits>,
}

impl Spans {
    /// Spans sent with `resource`; `xray` applies X-Ray's limits.
    pub(crate) fn new(resource: &Resource, xray: bool) -> Self {
        Self {
            resource: resource.into(),
            limits: xray.then(|| XrayLimits::new(resource)),
        }
    }
}

impl Batcher for Spans {
    type Item = SpanData;

    const ITEMS: &'static str = "spans";

    fn batch_len(&self, queued: &Queue<SpanData>) -> usize {
        match &self.limits {
            Some(limits) => limits.batch_len(queued.iter()),
            None => queued.len().min(MAX_BATCH_SPANS),
        }
    }

    fn encode(&self, batch: Batch<'_, SpanData>) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                batch.cloned().collect(),
                &self.resource,
            ),
        }
        .encode_to_vec()
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(limits) = &mut self.limits {
            *limits = XrayLimits::new(resource);
        }
        self.resource = resource.into();
    }

    /// For X-Ray: cuts spans down to its span limit; drops (and logs) those that still do not fit.
    fn refuse(&self, spans: &mut Vec<SpanData>) -> usize {
        if self.limits.is_none() {
            return 0;
        }
        let before = spans.len();
        spans.retain_mut(|span| match XrayLimits::fit(span) {
            Fit::Unchanged => true,
            Fit::Truncated => {
                tracing::debug!(span = %span.name, "truncated string attributes to fit X-Ray's span size limit");
                true
            }
            Fit::TooLarge(bytes) => {
                tracing::warn!(
                    span = %span.name,
                    bytes,
                    limit = XRAY_MAX_SPAN_BYTES,
                    "dropped a span over X-Ray's size limit even with its string attributes truncated"
                );
                false
            }
        });
        before - spans.len()
    }
}
