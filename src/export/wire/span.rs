//! A [`SpanData`] as an OTLP `Span`, with its events, links and status, as opentelemetry-proto's
//! `Span::from(SpanData)` builds it: flags carry the trace flags and whether the parent is
//! remote; a parent id is sent only when valid; the status is always set.

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::SpanData;
use prost::encoding::{fixed32, fixed64, int32, uint32};

use super::attributes::{attributes_len, write_attributes};
use super::{
    bytes_len, message_len, scalar, scalar_len, write_bytes, write_message, write_scalar, Message,
};
use crate::proto_values::unix_nanos;

/// `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`: whether the parent (or linked) context is remote is
/// known.
const HAS_IS_REMOTE: u32 = 0x100;
/// `SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`: the parent (or linked) context is remote.
const IS_REMOTE: u32 = 0x200;

/// One span as written, its trace state header, times and length worked out once (for the
/// length and again for writing, they cost more than the fields they are).
pub(crate) struct SpanMessage<'a> {
    span: &'a SpanData,
    trace_state: String,
    start: u64,
    end: u64,
    len: usize,
}

impl<'a> SpanMessage<'a> {
    /// `span`, measured.
    pub(crate) fn new(span: &'a SpanData) -> Self {
        let mut message = Self {
            span,
            trace_state: span.span_context.trace_state().header(),
            start: unix_nanos(span.start_time),
            end: unix_nanos(span.end_time),
            len: 0,
        };
        message.len = message.fields_len();
        message
    }

    /// The scope the span was recorded in.
    pub(crate) fn scope(&self) -> &'a InstrumentationScope {
        &self.span.instrumentation_scope
    }

    fn fields_len(&self) -> usize {
        let span = self.span;
        let context = &span.span_context;
        let parent = parent_span_id(span);
        bytes_len(1, &context.trace_id().to_bytes())
            + bytes_len(2, &context.span_id().to_bytes())
            + bytes_len(3, self.trace_state.as_bytes())
            + bytes_len(4, parent.as_slice())
            + bytes_len(5, span.name.as_bytes())
            + scalar_len(6, &kind(&span.span_kind), int32::encoded_len)
            + scalar_len(7, &self.start, fixed64::encoded_len)
            + scalar_len(8, &self.end, fixed64::encoded_len)
            + attributes_len(9, &span.attributes)
            + scalar_len(10, &span.dropped_attributes_count, uint32::encoded_len)
            + span
                .events
                .iter()
                .map(|event| message_len(11, &EventMessage(event)))
                .sum::<usize>()
            + scalar_len(12, &span.events.dropped_count, uint32::encoded_len)
            + span
                .links
                .iter()
                .map(|link| message_len(13, &LinkMessage::new(link)))
                .sum::<usize>()
            + scalar_len(14, &span.links.dropped_count, uint32::encoded_len)
            + message_len(15, &StatusMessage(&span.status))
            + scalar_len(
                16,
                &flags(context, span.parent_span_is_remote),
                fixed32::encoded_len,
            )
    }
}

impl Message for SpanMessage<'_> {
    fn body_len(&self) -> usize {
        self.len
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        let span = self.span;
        let context = &span.span_context;
        let parent = parent_span_id(span);
        write_bytes(1, &context.trace_id().to_bytes(), buf);
        write_bytes(2, &context.span_id().to_bytes(), buf);
        write_bytes(3, self.trace_state.as_bytes(), buf);
        write_bytes(4, parent.as_slice(), buf);
        write_bytes(5, span.name.as_bytes(), buf);
        write_scalar(6, &kind(&span.span_kind), scalar::int32, buf);
        write_scalar(7, &self.start, scalar::fixed64, buf);
        write_scalar(8, &self.end, scalar::fixed64, buf);
        write_attributes(9, &span.attributes, buf);
        write_scalar(10, &span.dropped_attributes_count, scalar::uint32, buf);
        for event in span.events.iter() {
            write_message(11, &EventMessage(event), buf);
        }
        write_scalar(12, &span.events.dropped_count, scalar::uint32, buf);
        for link in span.links.iter() {
            write_message(13, &LinkMessage::new(link), buf);
        }
        write_scalar(14, &span.links.dropped_count, scalar::uint32, buf);
        write_message(15, &StatusMessage(&span.status), buf);
        write_scalar(
            16,
            &flags(context, span.parent_span_is_remote),
            scalar::fixed32,
            buf,
        );
    }
}

/// The protobuf size of `span` as sent (without its field key and length prefix).
pub(crate) fn span_len(span: &SpanData) -> usize {
    SpanMessage::new(span).len
}

/// `Span.parent_span_id`: empty when the span has no parent.
fn parent_span_id(span: &SpanData) -> ParentSpanId {
    if span.parent_span_id == SpanId::INVALID {
        ParentSpanId::default()
    } else {
        ParentSpanId(Some(span.parent_span_id.to_bytes()))
    }
}

/// A parent span id's bytes, or none.
#[derive(Default)]
struct ParentSpanId(Option<[u8; 8]>);

impl ParentSpanId {
    fn as_slice(&self) -> &[u8] {
        self.0.as_ref().map_or(&[], |bytes| bytes.as_slice())
    }
}

/// `Span.flags` (and `Link.flags`): the W3C trace flags, and whether the context is remote.
fn flags(context: &SpanContext, remote: bool) -> u32 {
    let mut flags = u32::from(context.trace_flags().to_u8()) | HAS_IS_REMOTE;
    if remote {
        flags |= IS_REMOTE;
    }
    flags
}

/// `Span.SpanKind`'s number.
fn kind(kind: &SpanKind) -> i32 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// A `Span.Event`.
struct EventMessage<'a>(&'a Event);

impl Message for EventMessage<'_> {
    fn body_len(&self) -> usize {
        let event = self.0;
        scalar_len(1, &unix_nanos(event.timestamp), fixed64::encoded_len)
            + bytes_len(2, event.name.as_bytes())
            + attributes_len(3, &event.attributes)
            + scalar_len(4, &event.dropped_attributes_count, uint32::encoded_len)
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        let event = self.0;
        write_scalar(1, &unix_nanos(event.timestamp), scalar::fixed64, buf);
        write_bytes(2, event.name.as_bytes(), buf);
        write_attributes(3, &event.attributes, buf);
        write_scalar(4, &event.dropped_attributes_count, scalar::uint32, buf);
    }
}

/// A `Span.Link`, its trace state header worked out once.
struct LinkMessage<'a> {
    link: &'a Link,
    trace_state: String,
}

impl<'a> LinkMessage<'a> {
    fn new(link: &'a Link) -> Self {
        Self {
            link,
            trace_state: link.span_context.trace_state().header(),
        }
    }
}

impl Message for LinkMessage<'_> {
    fn body_len(&self) -> usize {
        let link = self.link;
        let context = &link.span_context;
        bytes_len(1, &context.trace_id().to_bytes())
            + bytes_len(2, &context.span_id().to_bytes())
            + bytes_len(3, self.trace_state.as_bytes())
            + attributes_len(4, &link.attributes)
            + scalar_len(5, &link.dropped_attributes_count, uint32::encoded_len)
            + scalar_len(
                6,
                &flags(context, context.is_remote()),
                fixed32::encoded_len,
            )
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        let link = self.link;
        let context = &link.span_context;
        write_bytes(1, &context.trace_id().to_bytes(), buf);
        write_bytes(2, &context.span_id().to_bytes(), buf);
        write_bytes(3, self.trace_state.as_bytes(), buf);
        write_attributes(4, &link.attributes, buf);
        write_scalar(5, &link.dropped_attributes_count, scalar::uint32, buf);
        write_scalar(
            6,
            &flags(context, context.is_remote()),
            scalar::fixed32,
            buf,
        );
    }
}

/// A `Status`: the description of an error, and the code.
struct StatusMessage<'a>(&'a Status);

impl StatusMessage<'_> {
    fn message(&self) -> &str {
        match self.0 {
            Status::Error { description } => description.as_ref(),
            Status::Unset | Status::Ok => "",
        }
    }

    fn code(&self) -> i32 {
        match self.0 {
            Status::Unset => 0,
            Status::Ok => 1,
            Status::Error { .. } => 2,
        }
    }
}

impl Message for StatusMessage<'_> {
    fn body_len(&self) -> usize {
        bytes_len(2, self.message().as_bytes()) + scalar_len(3, &self.code(), int32::encoded_len)
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        write_bytes(2, self.message().as_bytes(), buf);
        write_scalar(3, &self.code(), scalar::int32, buf);
    }
}
