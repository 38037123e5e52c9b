//! X-Ray's OTLP request limits: at most 10,000 spans and 5 MB (uncompressed) per request, at
//! most 200 KB per span.
//!
//! Sizes are protobuf sizes, measured on each span the way the request writes it (`wire`), so
//! they match the bytes sent to within the grouping overhead. A request's size is bounded from above by
//! the resource's share (measured once per resource) plus, for every span, its own framed size
//! and its scope's framed header: the scope header is paid once per scope on the wire but
//! counted once per span here, which over-estimates by a few tens of bytes per span and never
//! under-estimates. Limits are taken in decimal units (5,000,000 and 200,000 bytes), the stricter
//! reading of "MB" and "KB".
//!
//! A span over 200 KB is cut down, not dropped: its longest string attribute values (span and
//! event attributes) are truncated, longest first, and end with [`TRUNCATION_MARKER`], until the
//! span fits. A span that still does not fit (a huge name, thousands of attributes, array
//! values) is dropped and counted with the queue's drops, with a warning.

use opentelemetry::{KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

use crate::export::request::ResourceHeader;
use crate::export::wire::{span_len, Message, Scope, ScopeEntry, SpanMessage};
use crate::redact::floor_char_boundary;

/// The most spans in one request to X-Ray.
pub const XRAY_MAX_BATCH_SPANS: usize = 10_000;
/// The largest (uncompressed) request X-Ray accepts, in bytes.
pub const XRAY_MAX_REQUEST_BYTES: usize = 5_000_000;
/// The largest span X-Ray accepts, in bytes.
pub const XRAY_MAX_SPAN_BYTES: usize = 200_000;
/// Appended to a string attribute value that was truncated to fit [`XRAY_MAX_SPAN_BYTES`].
pub const TRUNCATION_MARKER: &str = "...[truncated]";

/// The limits applied to the queue when exporting to X-Ray.
#[derive(Debug, Clone)]
pub(crate) struct XrayLimits {
    /// The bytes a request takes besides its spans: the resource, the framing of the export
    /// request and of its single `ResourceSpans`.
    resource_overhead: usize,
}

/// What [`XrayLimits::fit`] did to a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fit {
    /// The span was within the limit.
    Unchanged,
    /// String attribute values were truncated; the span now fits.
    Truncated,
    /// The span cannot be brought under the limit (its size after truncation, in bytes).
    TooLarge(usize),
}

impl XrayLimits {
    pub(crate) fn new(resource: &Resource) -> Self {
        let header = ResourceHeader::new(resource);
        Self {
            resource_overhead: framed_len(framed_len(header.entry_len())),
        }
    }

    /// How many of `queued` (oldest first) go into the next request: at least one (a span over
    /// the request limit cannot be split; [`XrayLimits::fit`] keeps spans far below it), at most
    /// [`XRAY_MAX_BATCH_SPANS`], and no more than fit in [`XRAY_MAX_REQUEST_BYTES`].
    pub(crate) fn batch_len<'a>(&self, queued: impl IntoIterator<Item = &'a SpanData>) -> usize {
        let mut size = self.resource_overhead;
        let mut count = 0;
        for span in queued.into_iter().take(XRAY_MAX_BATCH_SPANS) {
            size += request_share(span);
            if count > 0 && size > XRAY_MAX_REQUEST_BYTES {
                break;
            }
            count += 1;
        }
        count
    }

    /// Brings `span` within [`XRAY_MAX_SPAN_BYTES`] by truncating its longest string attribute
    /// values, longest first.
    pub(crate) fn fit(span: &mut SpanData) -> Fit {
        let mut size = span_len(span);
        if size <= XRAY_MAX_SPAN_BYTES {
            return Fit::Unchanged;
        }
        loop {
            let Some(longest) = longest_string_value(span) else {
                return Fit::TooLarge(size);
            };
            let excess = size - XRAY_MAX_SPAN_BYTES;
            let text = longest.as_str();
            // Keep what fits once the excess and the marker are gone; a value too short to
            // absorb all of it is cut to the marker and the next longest one is taken.
            let keep = floor_char_boundary(
                text,
                text.len().saturating_sub(excess + TRUNCATION_MARKER.len()),
            );
            if keep + TRUNCATION_MARKER.len() >= text.len() {
                // Even the longest value would not get shorter: nothing left to gain.
                return Fit::TooLarge(size);
            }
            *longest = format!("{}{TRUNCATION_MARKER}", &text[..keep]).into();
            size = span_len(span);
            if size <= XRAY_MAX_SPAN_BYTES {
                return Fit::Truncated;
            }
        }
    }
}

/// An upper bound of the bytes `span` adds to a request: the span framed as a repeated field,
/// plus its scope's framed header (see the module documentation).
fn request_share(span: &SpanData) -> usize {
    let scope = &span.instrumentation_scope;
    let header = ScopeEntry::<_, SpanMessage<'_>>::new(
        Scope(scope),
        scope.schema_url().unwrap_or_default(),
        Vec::new(),
    );
    framed_len(span_len(span)) + framed_len(header.body_len())
}

/// The size of a length-delimited field of `len` bytes: one tag byte (all field numbers
/// involved are below 16), the length as a varint, and the bytes.
fn framed_len(len: usize) -> usize {
    1 + prost::length_delimiter_len(len) + len
}

/// The longest string value among the span's and its events' attributes.
fn longest_string_value(span: &mut SpanData) -> Option<&mut StringValue> {
    let event_attributes = span
        .events
        .events
        .iter_mut()
        .flat_map(|event| event.attributes.iter_mut());
    span.attributes
        .iter_mut()
        .chain(event_attributes)
        .filter_map(|KeyValue { value, .. }| match value {
            Value::String(text) => Some(text),
            _ => None,
        })
        .max_by_key(|text| text.as_str().len())
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::{Duration, UNIX_EPOCH};

    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;
    use crate::export::outbox::Batcher;
    use crate::export::queue::Queue;
    use crate::export::traces::Spans;

    fn span(index: u64, scope: &'static str, value: String) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(u128::from(index) + 1),
                SpanId::from(index + 1),
                TraceFlags::SAMPLED,
                false,
                Default::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: format!("span-{index}").into(),
            start_time: UNIX_EPOCH + Duration::from_secs(index),
            end_time: UNIX_EPOCH + Duration::from_secs(index + 1),
            attributes: vec![KeyValue::new("value", value)],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder(scope).build(),
        }
    }

    #[test]
    fn the_request_estimate_bounds_the_encoded_request() {
        let resource = Resource::builder_empty()
            .with_attributes([KeyValue::new("service.name", "orders-fn")])
            .build();
        let spans: Vec<SpanData> = (0..50)
            .map(|index| {
                let scope = if index % 2 == 0 {
                    "lambda-lens"
                } else {
                    "other"
                };
                span(
                    index,
                    scope,
                    "v".repeat(usize::try_from(index * 37).expect("small")),
                )
            })
            .collect();
        let estimate = XrayLimits::new(&resource).resource_overhead
            + spans.iter().map(request_share).sum::<usize>();
        let mut queue = Queue::new(spans.len());
        queue.push(spans);
        let actual = Spans::new(&resource, true)
            .encode(queue.front(queue.len()))
            .len();
        assert!(estimate >= actual, "{estimate} < {actual}");
        assert!(
            estimate - actual < 50 * 32,
            "{estimate} vs {actual}: too loose"
        );
    }

    #[test]
    fn batches_stop_at_the_byte_limit_but_take_at_least_one_span() {
        let limits = XrayLimits::new(&Resource::builder_empty().build());
        let queue: VecDeque<SpanData> = (0..30)
            .map(|index| span(index, "s", "x".repeat(190_000)))
            .collect();
        assert_eq!(
            limits.batch_len(&queue),
            26,
            "26 × ~190 KB ≤ 5 MB < 27 × ~190 KB"
        );
        let giant: VecDeque<SpanData> = [span(0, "s", "x".repeat(6_000_000))].into();
        assert_eq!(limits.batch_len(&giant), 1);
    }

    #[test]
    fn truncation_cuts_at_a_character_boundary() {
        let mut big = span(0, "s", "é".repeat(150_000));
        assert_eq!(XrayLimits::fit(&mut big), Fit::Truncated);
        assert!(span_len(&big) <= XRAY_MAX_SPAN_BYTES);
        assert!(
            span_len(&big) > XRAY_MAX_SPAN_BYTES - 100,
            "cut no more than needed"
        );
        let mut small = span(1, "s", "ok".to_owned());
        assert_eq!(XrayLimits::fit(&mut small), Fit::Unchanged);
        let mut no_strings = span(2, "s", String::new());
        no_strings.name = "n".repeat(300_000).into();
        assert!(matches!(XrayLimits::fit(&mut no_strings), Fit::TooLarge(_)));
    }
}
