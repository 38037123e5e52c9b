//! How every span of the model is put together: sampled, in the invocation's trace, under the
//! lambda-lens scope, never ending before it starts.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use super::resource::scope;

/// One span, before it joins its trace.
pub(super) struct SpanSpec {
    /// The `tracestate` the span carries on (the remote parent's, for the invocation span).
    pub(super) trace_state: TraceState,
    pub(super) span_id: SpanId,
    pub(super) parent: SpanId,
    pub(super) parent_is_remote: bool,
    pub(super) kind: SpanKind,
    pub(super) name: Cow<'static, str>,
    pub(super) start: SystemTime,
    pub(super) end: SystemTime,
    pub(super) attributes: Vec<KeyValue>,
    pub(super) events: Vec<Event>,
    pub(super) status: Status,
    pub(super) links: SpanLinks,
}

impl SpanSpec {
    /// An INTERNAL child of `parent` with neither events nor a status: the init, phase and report
    /// spans.
    pub(super) fn child(
        parent: SpanId,
        span_id: SpanId,
        name: Cow<'static, str>,
        (start, end): (SystemTime, SystemTime),
        attributes: Vec<KeyValue>,
    ) -> Self {
        Self {
            trace_state: TraceState::NONE,
            span_id,
            parent,
            parent_is_remote: false,
            kind: SpanKind::Internal,
            name,
            start,
            end,
            attributes,
            events: Vec::new(),
            status: Status::Unset,
            links: SpanLinks::default(),
        }
    }

    /// The span in `trace_id`, sampled: only the invocations the sampler records are built.
    pub(super) fn build(self, trace_id: TraceId) -> SpanData {
        let mut events = SpanEvents::default();
        events.events = self.events;
        SpanData {
            span_context: SpanContext::new(
                trace_id,
                self.span_id,
                TraceFlags::SAMPLED,
                false,
                self.trace_state,
            ),
            parent_span_id: self.parent,
            parent_span_is_remote: self.parent_is_remote,
            span_kind: self.kind,
            name: self.name,
            start_time: self.start,
            end_time: self.end.max(self.start),
            attributes: self.attributes,
            dropped_attributes_count: 0,
            events,
            links: self.links,
            status: self.status,
            instrumentation_scope: scope(),
        }
    }
}
