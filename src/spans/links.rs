//! The invocation span's links: the context its parent choice did not take (the Lambda X-Ray
//! context when the event's own was chosen, or the reverse for the X-Ray export target).

use opentelemetry::trace::{Link, SpanContext, TraceFlags};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanLinks;

use super::names::lens;
use crate::correlate::InvocationSummary;
use crate::trace_context::ContextLink;

/// Every link of the invocation span of `inv`.
pub(super) fn context_links(inv: &InvocationSummary) -> SpanLinks {
    let mut links = SpanLinks::default();
    links
        .links
        .extend(inv.parent.link.as_ref().map(choice_link));
    links
}

/// The link to the context the parent choice left over, saying where it was read.
fn choice_link(link: &ContextLink) -> Link {
    let context = &link.context;
    let flags = if context.sampled == Some(true) {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let span_context = SpanContext::new(
        context.trace_id,
        context.span_id,
        flags,
        true,
        context.trace_state.clone(),
    );
    let attributes = vec![KeyValue::new(
        lens::LINK_SOURCE,
        link.source.propagator_name(),
    )];
    Link::new(span_context, attributes, 0)
}
