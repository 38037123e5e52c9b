//! Trace context for one invocation: which trace its spans join and under which parent, and
//! whether they are recorded. Pure logic, no I/O; the propagators and the sampler are chosen by
//! the `settings` module.
//!
//! | file | owns |
//! |---|---|
//! | `xray.rs` | the X-Ray tracing header (`Lambda-Runtime-Trace-Id`, `X-Amzn-Trace-Id`, `AWSTraceHeader`): parsing, mapping to W3C ids, [`TraceContext::from_xray_header`] |
//! | `w3c.rs` | W3C Trace Context: `traceparent` parsing and formatting, `tracestate` |
//! | `ids.rs` | originating ids (X-Ray-compatible trace ids, span ids) and reading hex ids |
//! | `propagator.rs` | the `OTEL_PROPAGATORS` names and which carrier each reads |
//! | `parent.rs` | the choice of the invocation's parent and link ([`ParentChoice`]) |
//! | `sampler.rs` | the `OTEL_TRACES_SAMPLER` decision |
//! | `rules.rs` | the settings both are made with ([`TraceRules`]) |
//! | `testing.rs` | the tests' shared example ids (tests only) |
//!
//! The types every file shares are here: [`TraceContext`] (what the invocation span is built
//! with), [`TraceOrigin`] and [`ContextSource`] (where it came from), and [`RemoteContext`] (a
//! span context read from a carrier).

mod ids;
mod parent;
mod propagator;
mod rules;
mod sampler;
#[cfg(test)]
mod testing;
mod w3c;
mod xray;

use opentelemetry::trace::{SpanId, TraceId, TraceState};

pub use self::ids::{new_span_id, new_xray_trace_id};
pub use self::parent::{ContextLink, ParentChoice};
pub use self::propagator::{Propagator, Propagators};
pub use self::rules::TraceRules;
pub use self::sampler::Sampler;
pub use self::w3c::{remote_context, Traceparent};
pub use self::xray::{xray_root, XRayHeader, XRaySampled};

/// Where a remote span context was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextSource {
    /// The Lambda X-Ray context: the tracing header Lambda hands over for the invocation
    /// (`Lambda-Runtime-Trace-Id`, the INVOKE event's `tracing.value`); read by `xray-lambda`.
    LambdaXRay,
    /// The event's W3C Trace Context (`traceparent`/`tracestate`: an HTTP-shaped event's headers,
    /// a single message's attributes); read by `tracecontext`.
    EventTraceContext,
    /// The event's own X-Ray header (an HTTP-shaped event's `X-Amzn-Trace-Id`, a single SQS
    /// message's `AWSTraceHeader`); read by `xray`.
    EventXRay,
}

impl ContextSource {
    /// The `OTEL_PROPAGATORS` name of the propagator that reads this source.
    pub fn propagator_name(self) -> &'static str {
        match self {
            Self::LambdaXRay => "xray-lambda",
            Self::EventTraceContext => "tracecontext",
            Self::EventXRay => "xray",
        }
    }
}

/// Where an invocation's trace context came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceOrigin {
    /// A valid trace id and parent span id from `source`: the invocation span continues that trace.
    Remote(ContextSource),
    /// No remote parent, but the Lambda X-Ray context has a valid `Root` (e.g. PassThrough's
    /// `Root;Lineage`): the trace id is kept so that spans line up with X-Ray, but the invocation
    /// span is a root span.
    XRayRootOnly,
    /// No remote parent and no valid Lambda `Root`: a fresh X-Ray-compatible trace id was
    /// generated.
    Generated,
}

/// The trace context of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// The W3C trace id (never invalid).
    pub trace_id: TraceId,
    /// The remote parent span, only for [`TraceOrigin::Remote`].
    pub parent_span_id: Option<SpanId>,
    /// The upstream sampling decision: `Some(true/false)` for W3C flags or X-Ray `Sampled=1/0`,
    /// `None` for `Sampled=?`, no flag, or a generated trace id. [`Sampler::ParentBased`] follows
    /// it; the other samplers ignore it.
    pub sampled: Option<bool>,
    /// Where the ids came from.
    pub origin: TraceOrigin,
}

impl TraceContext {
    /// The context of a span whose remote parent is `remote`, read from `source`.
    fn child_of(remote: &RemoteContext, source: ContextSource) -> Self {
        Self {
            trace_id: remote.trace_id,
            parent_span_id: Some(remote.span_id),
            sampled: remote.sampled,
            origin: TraceOrigin::Remote(source),
        }
    }
}

/// A valid span context read from a carrier: a trace to continue, or to link to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteContext {
    /// The trace id (never invalid).
    pub trace_id: TraceId,
    /// The remote span (never invalid).
    pub span_id: SpanId,
    /// The upstream sampling decision, when the carrier states one.
    pub sampled: Option<bool>,
    /// The W3C `tracestate` that came with a `traceparent`; empty for X-Ray contexts.
    pub trace_state: TraceState,
}
