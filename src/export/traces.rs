//! The trace signal: finished spans ([`SpanData`]) batched and encoded as an
//! `ExportTraceServiceRequest`, written from the queued spans (see `wire`): one resource entry,
//! one scope entry per instrumentation scope in the order the scopes first appear.
//!
//! Bounds: the queue holds at most `LAMBDA_LENS_EXPORT_QUEUE_SPANS` spans (see `queue`); a
//! request to an OTLP collector holds at most [`MAX_BATCH_SPANS`] spans; to X-Ray, at most
//! `XRAY_MAX_BATCH_SPANS` spans and `XRAY_MAX_REQUEST_BYTES`, and a span over
//! [`XRAY_MAX_SPAN_BYTES`] is cut down (or dropped) before it is queued (see `xray`).

use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use smallvec::SmallVec;

use super::outbox::Batcher;
use super::queue::{Batch, Queue};
use super::request::ResourceHeader;
use super::wire::{export_request, Scope, ScopeEntry, SpanMessage};
use super::xray::{Fit, XrayLimits, XRAY_MAX_SPAN_BYTES};

/// The most spans sent in one export request to an OTLP collector (collectors commonly cap
/// requests); X-Ray's own limits are [`XRAY_MAX_BATCH_SPANS`](crate::export::XRAY_MAX_BATCH_SPANS)
/// and [`XRAY_MAX_REQUEST_BYTES`](crate::export::XRAY_MAX_REQUEST_BYTES).
pub const MAX_BATCH_SPANS: usize = 512;

/// How queued spans are cut into requests and encoded.
pub(crate) struct Spans {
    /// Encoded once per resource, not per request.
    header: ResourceHeader,
    /// X-Ray's batch and span size limits; `None` for OTLP collectors.
    limits: Option<XrayLimits>,
}

impl Spans {
    /// Spans sent with `resource`; `xray` applies X-Ray's limits.
    pub(crate) fn new(resource: &Resource, xray: bool) -> Self {
        Self {
            header: ResourceHeader::new(resource),
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
        // Kept inline: lambda-lens's spans all share its one scope.
        let mut scopes: SmallVec<[ScopeEntry<'_, Scope<'_>, SpanMessage<'_>>; 1]> = SmallVec::new();
        // The first scope's entry has room for the whole batch (at most `MAX_BATCH_SPANS`
        // spans): a batch mostly holds one scope, whose entry then never grows.
        let batch_len = batch.len();
        for span in batch {
            let span = SpanMessage::new(span);
            // Spans of one scope mostly come together: the last entry is tried first, then the
            // others (a batch holds few scopes).
            let scope = span.scope();
            match scopes
                .iter_mut()
                .rev()
                .find(|entry| entry.scope().0 == scope)
            {
                Some(entry) => entry.push(span),
                None => {
                    let mut spans =
                        Vec::with_capacity(if scopes.is_empty() { batch_len } else { 1 });
                    spans.push(span);
                    scopes.push(ScopeEntry::new(
                        Scope(scope),
                        scope.schema_url().unwrap_or_default(),
                        spans,
                    ));
                }
            }
        }
        export_request(&self.header.resource, &self.header.schema_url, &scopes)
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(limits) = &mut self.limits {
            *limits = XrayLimits::new(resource);
        }
        self.header = ResourceHeader::new(resource);
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::{Duration, UNIX_EPOCH};

    use opentelemetry::trace::{
        Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use prost::Message;

    use super::*;

    /// Every value kind, with defaults (empty, zero, false) and an empty key among them.
    fn every_value() -> Vec<KeyValue> {
        vec![
            KeyValue::new("string", "text"),
            KeyValue::new("string.empty", ""),
            KeyValue::new("bool", true),
            KeyValue::new("bool.false", false),
            KeyValue::new("int", -42_i64),
            KeyValue::new("int.zero", 0_i64),
            KeyValue::new("double", 2.5),
            KeyValue::new("double.zero", 0.0),
            KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
            KeyValue::new("ints", Value::Array(Array::I64(vec![-1, 0, 300]))),
            KeyValue::new("doubles", Value::Array(Array::F64(vec![0.0, -1.5]))),
            KeyValue::new(
                "strings",
                Value::Array(Array::String(vec![
                    StringValue::from("a"),
                    StringValue::from(""),
                ])),
            ),
            KeyValue::new("ints.empty", Value::Array(Array::I64(Vec::new()))),
            KeyValue::new("", "empty key"),
        ]
    }

    fn context(
        trace: u128,
        span: u64,
        flags: TraceFlags,
        remote: bool,
        state: &str,
    ) -> SpanContext {
        let state = if state.is_empty() {
            TraceState::default()
        } else {
            state.parse().expect("a valid trace state")
        };
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            flags,
            remote,
            state,
        )
    }

    fn span(index: u64, scope: &InstrumentationScope, kind: SpanKind, status: Status) -> SpanData {
        SpanData {
            span_context: context(0xabc, index + 1, TraceFlags::SAMPLED, false, ""),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: kind,
            name: Cow::Owned(format!("span-{index}")),
            start_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_000 + index),
            end_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_500_000_000 + index),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: scope.clone(),
        }
    }

    /// Spans using every field: two scopes, interleaved.
    fn rich_spans() -> Vec<SpanData> {
        let lens = InstrumentationScope::builder("lambda-lens")
            .with_version("1.2.3")
            .with_schema_url("https://opentelemetry.io/schemas/1.26.0")
            .with_attributes([KeyValue::new("scope.attr", 7_i64)])
            .build();
        let other = InstrumentationScope::builder("other").build();

        let mut server = span(0, &lens, SpanKind::Server, Status::error("boom: it broke"));
        server.span_context = context(
            0x1122_3344_5566_7788_99aa_bbcc_ddee_ff00,
            0x1020_3040_5060_7080,
            TraceFlags::SAMPLED,
            false,
            "vendor=a,other=b",
        );
        server.parent_span_id = SpanId::from(0x8877_6655_4433_2211);
        server.parent_span_is_remote = true;
        server.attributes = every_value();
        server.dropped_attributes_count = 3;
        server.events.events = vec![
            Event::new(
                "exception",
                UNIX_EPOCH + Duration::from_nanos(1_700_000_000_100_000_000),
                every_value(),
                1,
            ),
            Event::new("", UNIX_EPOCH, Vec::new(), 0),
        ];
        server.events.dropped_count = 2;
        server.links.links = vec![
            Link::new(
                context(0x2233, 0x2030, TraceFlags::SAMPLED, true, "vendor=link"),
                vec![KeyValue::new("link.attr", "linked")],
                4,
            ),
            Link::new(
                context(0x4455, 0x4050, TraceFlags::default(), false, ""),
                Vec::new(),
                0,
            ),
        ];
        server.links.dropped_count = 1;

        let mut unnamed = span(1, &other, SpanKind::Internal, Status::Ok);
        unnamed.name = Cow::Borrowed("");
        unnamed.start_time = UNIX_EPOCH;
        unnamed.end_time = UNIX_EPOCH;
        unnamed.span_context = context(0xdef, 9, TraceFlags::default(), false, "");

        let mut child = span(2, &lens, SpanKind::Client, Status::Unset);
        child.parent_span_id = SpanId::from(1);
        vec![
            server,
            unnamed,
            child,
            span(3, &lens, SpanKind::Producer, Status::error("")),
            span(4, &other, SpanKind::Consumer, Status::Unset),
        ]
    }

    #[test]
    fn spans_are_written_as_opentelemetry_proto_converts_them() {
        let resource = Resource::builder_empty()
            .with_schema_url(
                [
                    KeyValue::new("service.name", "orders-fn"),
                    KeyValue::new("faas.max_memory", 1024_i64),
                ],
                "https://opentelemetry.io/schemas/1.26.0",
            )
            .build();
        let spans = rich_spans();
        let expected = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans.clone(), &(&resource).into()),
        };
        let mut queue = Queue::new(16);
        queue.push(spans);

        let written = Spans::new(&resource, false).encode(queue.front(queue.len()));

        let decoded = ExportTraceServiceRequest::decode(written.as_slice()).expect("valid OTLP");
        assert_eq!(decoded, expected);
        let scopes = &decoded.resource_spans[0].scope_spans;
        assert_eq!(
            scopes
                .iter()
                .map(|scope| (
                    scope.scope.as_ref().map(|s| s.name.as_str()),
                    scope.spans.len()
                ))
                .collect::<Vec<_>>(),
            [(Some("lambda-lens"), 3), (Some("other"), 2)]
        );
        assert_eq!(written, expected.encode_to_vec(), "byte for byte, too");
        assert_eq!(written.capacity(), written.len(), "sized up front");
    }
}
