//! The propagators `OTEL_PROPAGATORS` names, the order they are tried in, and the carrier each
//! reads (the reading itself is the choice's, see [`super::ParentChoice`]).

use super::ContextSource;

/// A propagator lambda-lens knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagator {
    /// `tracecontext`: the event's W3C `traceparent`/`tracestate`.
    TraceContext,
    /// `baggage`: accepted for compatibility with the usual lists; it carries no span context, so
    /// it never yields a parent.
    Baggage,
    /// `xray`: the event's own X-Ray header (`X-Amzn-Trace-Id`, `AWSTraceHeader`).
    XRay,
    /// `xray-lambda`: the Lambda X-Ray context (`Lambda-Runtime-Trace-Id`).
    XRayLambda,
}

impl Propagator {
    /// Every propagator by its `OTEL_PROPAGATORS` name.
    pub const NAMES: [(&'static str, Propagator); 4] = [
        ("tracecontext", Propagator::TraceContext),
        ("baggage", Propagator::Baggage),
        ("xray", Propagator::XRay),
        ("xray-lambda", Propagator::XRayLambda),
    ];

    /// Where this propagator reads a span context; `None` for baggage.
    pub fn source(self) -> Option<ContextSource> {
        match self {
            Self::TraceContext => Some(ContextSource::EventTraceContext),
            Self::Baggage => None,
            Self::XRay => Some(ContextSource::EventXRay),
            Self::XRayLambda => Some(ContextSource::LambdaXRay),
        }
    }
}

/// The propagators in the order they are tried for the invocation's parent; the first that reads a
/// valid context wins. Empty for `OTEL_PROPAGATORS=none`.
///
/// The default, `tracecontext,baggage,xray-lambda`, is the OpenTelemetry Lambda conventions' list
/// for reporting to X-Ray, and it gives the event's own context priority over the Lambda X-Ray
/// context (which then becomes a link), so traces also join in other backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propagators(Vec<Propagator>);

impl Propagators {
    /// These propagators, in this order; a repeated one counts once, where it first appears.
    pub fn new(propagators: impl IntoIterator<Item = Propagator>) -> Self {
        let mut list = Vec::new();
        for propagator in propagators {
            if !list.contains(&propagator) {
                list.push(propagator);
            }
        }
        Self(list)
    }

    /// No propagator: every invocation starts its own trace (`none`).
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// The propagators in the order they are tried.
    pub fn iter(&self) -> impl Iterator<Item = Propagator> + '_ {
        self.0.iter().copied()
    }
}

impl Default for Propagators {
    fn default() -> Self {
        Self::new([
            Propagator::TraceContext,
            Propagator::Baggage,
            Propagator::XRayLambda,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_count_once_where_they_first_appear() {
        let list = Propagators::new([Propagator::XRay, Propagator::TraceContext, Propagator::XRay]);
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            [Propagator::XRay, Propagator::TraceContext]
        );
        assert_eq!(Propagators::none().iter().count(), 0);
    }

    #[test]
    fn only_baggage_reads_no_context() {
        for (name, propagator) in Propagator::NAMES {
            assert_eq!(
                propagator.source().is_none(),
                propagator == Propagator::Baggage,
                "{name}"
            );
        }
    }
}
