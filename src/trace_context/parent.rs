//! The choice of the invocation span's parent, after the OpenTelemetry AWS Lambda conventions
//! (`docs/faas/aws-lambda.md` in `open-telemetry/semantic-conventions`):
//!
//! 1. The propagators ([`Propagators`], `OTEL_PROPAGATORS`) are tried in order and the first that
//!    reads a valid span context from its carrier gives the parent: `tracecontext` the event's W3C
//!    context, `xray` the event's own X-Ray header, `xray-lambda` the Lambda X-Ray context;
//!    `baggage` never gives one. First wins, so the list reads as a priority. (OpenTelemetry's
//!    composite propagator lets a later propagator overwrite an earlier one, except `xray-lambda`,
//!    which defers to a context found before it; here every propagator defers.)
//! 2. With the X-Ray export target, a valid Lambda X-Ray context is the parent whatever the list
//!    says, so that X-Ray's service map joins the invocation to Lambda's own segment; the
//!    context the propagators found, if any, becomes the link instead.
//! 3. Otherwise, a valid Lambda X-Ray context that is not the parent becomes the span's link, so
//!    the trace can still be followed into X-Ray.
//! 4. Without a parent the trace is originated as [`TraceContext::from_xray_header`] does: the
//!    Lambda `Root` when it is valid, with its `Sampled` flag (PassThrough's `Root;Lineage`, or a
//!    Lambda context the list leaves out, which rule 3 then also links to), else a new
//!    X-Ray-compatible id. The trace id then matches the one the function sees in
//!    `_X_AMZN_TRACE_ID`.
//!
//! A context is valid with a valid trace id and a valid span id: an X-Ray header needs both
//! `Root` and `Parent`, a `traceparent` must pass the W3C rules. A link never repeats the parent.

use std::time::SystemTime;

use opentelemetry::trace::TraceState;

use super::w3c::remote_context;
use super::xray::XRayHeader;
use super::{ContextSource, Propagators, RemoteContext, Sampler, TraceContext};
use crate::event::EventCarrier;
use crate::settings::ExportTarget;

/// A span context the invocation span links to rather than continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextLink {
    /// The linked context.
    pub context: RemoteContext,
    /// Where it was read from.
    pub source: ContextSource,
}

/// The invocation's trace: its ids, its parent, the `tracestate` it carries on, and its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentChoice {
    /// Trace id, remote parent span id, the parent's sampling flag, and where they came from.
    pub trace: TraceContext,
    /// The parent's `tracestate`, to keep on the invocation's spans and pass on; empty unless the
    /// parent came from W3C Trace Context.
    pub trace_state: TraceState,
    /// The context that was not chosen as parent (see the module documentation).
    pub link: Option<ContextLink>,
}

impl ParentChoice {
    /// Chooses the parent of an invocation whose event carries `carrier` and whose Lambda X-Ray
    /// header is `lambda_header`, trying `propagators` in order; `target` is where spans are
    /// exported (X-Ray keeps the Lambda X-Ray context as parent); `now` dates a generated trace id.
    pub fn choose(
        propagators: &Propagators,
        carrier: &EventCarrier<'_>,
        lambda_header: Option<&str>,
        target: ExportTarget,
        now: SystemTime,
    ) -> Self {
        let lambda = lambda_header.map(XRayHeader::parse).unwrap_or_default();
        let lambda_context = lambda
            .remote()
            .map(|context| (ContextSource::LambdaXRay, context));
        let found = propagators
            .iter()
            .filter_map(|propagator| propagator.source())
            .find_map(|source| Some((source, read(source, carrier, &lambda)?)));
        let (parent, link) = match (target, lambda_context) {
            (ExportTarget::Xray, Some(lambda_context)) => (
                Some(lambda_context),
                found.filter(|(source, _)| *source != ContextSource::LambdaXRay),
            ),
            (_, lambda_context) => {
                let link = lambda_context.filter(|_| {
                    found
                        .as_ref()
                        .is_none_or(|(source, _)| *source != ContextSource::LambdaXRay)
                });
                (found, link)
            }
        };
        let link = link
            .filter(|(_, link)| {
                parent.as_ref().is_none_or(|(_, parent)| {
                    (parent.trace_id, parent.span_id) != (link.trace_id, link.span_id)
                })
            })
            .map(|(source, context)| ContextLink { context, source });
        match parent {
            Some((source, context)) => Self {
                trace: TraceContext::child_of(&context, source),
                trace_state: context.trace_state,
                link,
            },
            None => Self {
                trace: TraceContext::originate(&lambda, now),
                trace_state: TraceState::NONE,
                link,
            },
        }
    }

    /// The choice made from the Lambda X-Ray header alone, as for an invocation whose event was not
    /// seen: its context is the parent (or its `Root` the trace), nothing is linked.
    pub fn lambda(lambda_header: Option<&str>, now: SystemTime) -> Self {
        Self {
            trace: TraceContext::from_xray_header(lambda_header, now),
            trace_state: TraceState::NONE,
            link: None,
        }
    }

    /// The invocation's one sampling decision under `sampler`.
    ///
    /// `parentbased_*` samplers follow the parent's flag (`trace.sampled`: W3C flags, X-Ray
    /// `Sampled=1/0`) and ask their root sampler when it is undecided (`Sampled=?`, no flag, a new
    /// trace); the others ignore it, so the default `always_on` records an invocation even under
    /// an unsampled parent. Both the exported spans' sampled flag and a `traceparent` handed to
    /// the function must state this decision (an unrecorded invocation exports nothing, and its
    /// injected `traceparent` says so): the function's own spans are then recorded exactly when
    /// the invocation's are. The decision depends only on the trace id and the parent's flag, so
    /// asking again gives the same answer.
    pub fn sampled(&self, sampler: &Sampler) -> bool {
        sampler.should_sample(&self.trace)
    }
}

/// The span context `source` names, when it is valid.
fn read(
    source: ContextSource,
    carrier: &EventCarrier<'_>,
    lambda: &XRayHeader,
) -> Option<RemoteContext> {
    match source {
        ContextSource::EventTraceContext => remote_context(
            carrier.traceparent.as_deref()?,
            carrier.tracestate.as_deref(),
        ),
        ContextSource::EventXRay => XRayHeader::parse(carrier.xray.as_deref()?).remote(),
        ContextSource::LambdaXRay => lambda.remote(),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use opentelemetry::trace::{SpanId, TraceId};

    use super::super::testing::{doc_time, span_id, trace_id};
    use super::super::{Propagator, TraceOrigin};
    use super::*;
    use crate::event::ParsedBody;

    /// The contexts the cases carry, each with its own ids so the chosen one is recognisable.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Ctx {
        /// The event's `traceparent` (sampled, with a `tracestate`).
        W3c,
        /// The event's own X-Ray header.
        EventXRay,
        /// The Lambda X-Ray context under active tracing.
        Lambda,
        /// The Lambda X-Ray context of a PassThrough function: `Root;Lineage`, no `Parent`.
        PassThrough,
    }

    const W3C: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const TRACESTATE: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
    const EVENT_XRAY: &str =
        "Root=1-67891233-abcdef012345678912345678;Parent=463ac35c9f6413ad;Sampled=1";
    const LAMBDA: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0";
    const PASS_THROUGH: &str = "Root=1-65f2a0e2-6ac9f94e5c1e0e8b4bf0e1c7;Lineage=a87bd80c:0";

    impl Ctx {
        fn trace_id(self) -> TraceId {
            trace_id(match self {
                Ctx::W3c => "4bf92f3577b34da6a3ce929d0e0e4736",
                Ctx::EventXRay => "67891233abcdef012345678912345678",
                Ctx::Lambda => "5759e988bd862e3fe1be46a994272793",
                Ctx::PassThrough => "65f2a0e26ac9f94e5c1e0e8b4bf0e1c7",
            })
        }

        fn span_id(self) -> SpanId {
            span_id(match self {
                Ctx::W3c => "00f067aa0ba902b7",
                Ctx::EventXRay => "463ac35c9f6413ad",
                Ctx::Lambda => "53995c3f42cd8ad8",
                Ctx::PassThrough => unreachable!("a PassThrough header names no parent"),
            })
        }

        fn source(self) -> ContextSource {
            match self {
                Ctx::W3c => ContextSource::EventTraceContext,
                Ctx::EventXRay => ContextSource::EventXRay,
                Ctx::Lambda | Ctx::PassThrough => ContextSource::LambdaXRay,
            }
        }
    }

    /// What a case's event and Lambda carry.
    fn carrier(event: &[Ctx]) -> EventCarrier<'static> {
        EventCarrier {
            traceparent: event.contains(&Ctx::W3c).then_some(Cow::Borrowed(W3C)),
            tracestate: event
                .contains(&Ctx::W3c)
                .then_some(Cow::Borrowed(TRACESTATE)),
            xray: event.contains(&Ctx::EventXRay).then_some(EVENT_XRAY.into()),
        }
    }

    fn lambda_header(lambda: Option<Ctx>) -> Option<&'static str> {
        lambda.map(|ctx| match ctx {
            Ctx::Lambda => LAMBDA,
            Ctx::PassThrough => PASS_THROUGH,
            Ctx::W3c | Ctx::EventXRay => unreachable!("not a Lambda header"),
        })
    }

    fn choose(
        order: &[Propagator],
        carrier: &EventCarrier<'_>,
        lambda: Option<&str>,
        target: ExportTarget,
    ) -> ParentChoice {
        let propagators = Propagators::new(order.iter().copied());
        ParentChoice::choose(&propagators, carrier, lambda, target, doc_time())
    }

    /// How a case must come out.
    #[derive(Debug, Clone, Copy)]
    enum Outcome {
        /// This context is the remote parent.
        Parent(Ctx),
        /// No parent; the trace id is this Lambda context's `Root`.
        Root(Ctx),
        /// No parent, a generated trace id.
        New,
    }

    fn assert_outcome(choice: &ParentChoice, outcome: Outcome, link: Option<Ctx>, case: &str) {
        match outcome {
            Outcome::Parent(ctx) => {
                assert_eq!(
                    choice.trace.origin,
                    TraceOrigin::Remote(ctx.source()),
                    "{case}"
                );
                assert_eq!(choice.trace.trace_id, ctx.trace_id(), "{case}");
                assert_eq!(choice.trace.parent_span_id, Some(ctx.span_id()), "{case}");
            }
            Outcome::Root(ctx) => {
                assert_eq!(choice.trace.origin, TraceOrigin::XRayRootOnly, "{case}");
                assert_eq!(choice.trace.trace_id, ctx.trace_id(), "{case}");
                assert_eq!(choice.trace.parent_span_id, None, "{case}");
            }
            Outcome::New => {
                assert_eq!(choice.trace.origin, TraceOrigin::Generated, "{case}");
                assert_eq!(choice.trace.parent_span_id, None, "{case}");
                assert!(
                    xray_root_of(choice.trace.trace_id).starts_with("1-5759e988-"),
                    "{case}: generated ids are X-Ray-compatible, dated now"
                );
            }
        }
        let linked = choice
            .link
            .as_ref()
            .map(|link| (link.source, link.context.trace_id, link.context.span_id));
        let expected = link.map(|ctx| (ctx.source(), ctx.trace_id(), ctx.span_id()));
        assert_eq!(linked, expected, "{case}: link");
    }

    fn xray_root_of(trace_id: TraceId) -> String {
        super::super::xray_root(trace_id)
    }

    use Ctx::{EventXRay as E, Lambda as L, PassThrough as P, W3c as W};
    use Outcome::{New, Parent, Root};
    use Propagator::{Baggage, TraceContext as Tc, XRay, XRayLambda};

    /// What a case expects: how it comes out, and what it links to.
    type Expected = (Outcome, Option<Ctx>);
    /// The contexts an event carries and the Lambda header of a case.
    type Shape = (&'static [Ctx], Option<Ctx>);

    /// The orders the matrix tries, in the columns' order.
    const ORDERS: [&[Propagator]; 6] = [
        &[Tc, Baggage, XRayLambda], // the default
        &[XRayLambda, Tc],          // the Lambda X-Ray context first
        &[Tc, Baggage, XRay],       // the conventions' list for other backends
        &[XRay, Tc],                // the event's X-Ray header first
        &[],                        // none
        &[Baggage],                 // nothing that reads a context
    ];

    #[test]
    fn every_propagator_order_and_header_shape() {
        // ((event carries, Lambda header), (outcome, link) for each of ORDERS)
        let matrix: [(Shape, [Expected; 6]); 8] = [
            // W3C only (with active tracing)
            (
                (&[W], Some(L)),
                [
                    (Parent(W), Some(L)),
                    (Parent(L), None),
                    (Parent(W), Some(L)),
                    (Parent(W), Some(L)),
                    (Root(L), Some(L)),
                    (Root(L), Some(L)),
                ],
            ),
            // the event's X-Ray header only
            (
                (&[E], Some(L)),
                [
                    (Parent(L), None),
                    (Parent(L), None),
                    (Parent(E), Some(L)),
                    (Parent(E), Some(L)),
                    (Root(L), Some(L)),
                    (Root(L), Some(L)),
                ],
            ),
            // both
            (
                (&[W, E], Some(L)),
                [
                    (Parent(W), Some(L)),
                    (Parent(L), None),
                    (Parent(W), Some(L)),
                    (Parent(E), Some(L)),
                    (Root(L), Some(L)),
                    (Root(L), Some(L)),
                ],
            ),
            // the Lambda X-Ray context only
            (
                (&[], Some(L)),
                [
                    (Parent(L), None),
                    (Parent(L), None),
                    (Root(L), Some(L)),
                    (Root(L), Some(L)),
                    (Root(L), Some(L)),
                    (Root(L), Some(L)),
                ],
            ),
            // W3C under PassThrough (`Root;Lineage`, no Parent): nothing to link to
            (
                (&[W], Some(P)),
                [
                    (Parent(W), None),
                    (Parent(W), None),
                    (Parent(W), None),
                    (Parent(W), None),
                    (Root(P), None),
                    (Root(P), None),
                ],
            ),
            // the event's X-Ray header under PassThrough
            (
                (&[E], Some(P)),
                [
                    (Root(P), None),
                    (Root(P), None),
                    (Parent(E), None),
                    (Parent(E), None),
                    (Root(P), None),
                    (Root(P), None),
                ],
            ),
            // W3C without any Lambda header (an emulator)
            (
                (&[W], None),
                [
                    (Parent(W), None),
                    (Parent(W), None),
                    (Parent(W), None),
                    (Parent(W), None),
                    (New, None),
                    (New, None),
                ],
            ),
            // nothing at all
            ((&[], None), [(New, None); 6]),
        ];
        for ((event, lambda), outcomes) in matrix {
            for (order, (outcome, link)) in ORDERS.iter().zip(outcomes) {
                let case = format!("event {event:?}, Lambda {lambda:?}, order {order:?}");
                let choice = choose(
                    order,
                    &carrier(event),
                    lambda_header(lambda),
                    ExportTarget::Otlp,
                );
                assert_outcome(&choice, outcome, link, &case);
            }
        }
    }

    #[test]
    fn the_xray_target_keeps_the_lambda_context_as_parent() {
        let cases: [(Shape, &[Propagator], Expected); 6] = [
            ((&[W], Some(L)), ORDERS[0], (Parent(L), Some(W))),
            ((&[W, E], Some(L)), ORDERS[3], (Parent(L), Some(E))),
            ((&[], Some(L)), ORDERS[2], (Parent(L), None)),
            ((&[W], Some(L)), ORDERS[4], (Parent(L), None)),
            // Without a valid Lambda context the propagators decide as for any target.
            ((&[W], Some(P)), ORDERS[0], (Parent(W), None)),
            ((&[], Some(P)), ORDERS[0], (Root(P), None)),
        ];
        for ((event, lambda), order, (outcome, link)) in cases {
            let case = format!("event {event:?}, Lambda {lambda:?}, order {order:?}");
            let choice = choose(
                order,
                &carrier(event),
                lambda_header(lambda),
                ExportTarget::Xray,
            );
            assert_outcome(&choice, outcome, link, &case);
            let kept = matches!(outcome, Parent(W));
            assert_eq!(choice.trace_state != TraceState::NONE, kept, "{case}");
        }
        let choice = choose(ORDERS[0], &carrier(&[W]), Some(LAMBDA), ExportTarget::Xray);
        let link = choice.link.expect("the event's context is linked");
        assert_eq!(link.context.trace_state.header(), TRACESTATE);
        assert_eq!(link.context.sampled, Some(true));
    }

    #[test]
    fn invalid_traceparents_fall_through_to_the_next_propagator() {
        let zero_trace = format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32));
        let zero_span = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01", "0".repeat(16));
        for traceparent in [
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            zero_trace.as_str(),
            zero_span.as_str(),
            "garbage",
        ] {
            let carrier = EventCarrier {
                traceparent: Some(traceparent.into()),
                tracestate: Some(TRACESTATE.into()),
                xray: None,
            };
            let choice = choose(ORDERS[0], &carrier, Some(LAMBDA), ExportTarget::Otlp);
            assert_outcome(&choice, Parent(L), None, traceparent);
            assert_eq!(choice.trace_state, TraceState::NONE, "{traceparent}");
        }
        let future = EventCarrier {
            traceparent: Some(format!("01-{}-more", &W3C[3..]).into()),
            ..EventCarrier::default()
        };
        let choice = choose(ORDERS[0], &future, Some(LAMBDA), ExportTarget::Otlp);
        assert_outcome(&choice, Parent(W), Some(L), "a later version");
    }

    #[test]
    fn an_event_xray_header_without_parent_gives_no_parent() {
        // ALB: `Self=…;Root=…`, no Parent.
        let carrier = EventCarrier {
            xray: Some(
                "Self=1-67891234-12456789abcdef012345678;Root=1-67891233-abcdef012345678912345678"
                    .into(),
            ),
            ..EventCarrier::default()
        };
        let choice = choose(ORDERS[3], &carrier, Some(LAMBDA), ExportTarget::Otlp);
        assert_outcome(&choice, Root(L), Some(L), "ALB");
    }

    #[test]
    fn the_sampled_flag_comes_from_the_chosen_parent() {
        let unsampled_w3c = EventCarrier {
            traceparent: Some(W3C.replace("-01", "-00").into()),
            ..EventCarrier::default()
        };
        let cases: [(EventCarrier<'_>, Option<&str>, Option<bool>); 7] = [
            (carrier(&[W]), Some(LAMBDA), Some(true)),
            (unsampled_w3c, Some(LAMBDA), Some(false)),
            (
                carrier(&[]),
                Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"),
                Some(false),
            ),
            (
                carrier(&[]),
                Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?"),
                None,
            ),
            (carrier(&[]), Some(PASS_THROUGH), None),
            // A Root without Parent keeps X-Ray's decision for its trace, as today.
            (
                carrier(&[]),
                Some("Root=1-65f2a0e2-6ac9f94e5c1e0e8b4bf0e1c7;Sampled=1"),
                Some(true),
            ),
            (carrier(&[]), None, None),
        ];
        for (carrier, lambda, sampled) in cases {
            let choice = choose(ORDERS[0], &carrier, lambda, ExportTarget::Otlp);
            assert_eq!(choice.trace.sampled, sampled, "{carrier:?} {lambda:?}");
        }
        let deferred_event = EventCarrier {
            xray: Some(
                "Root=1-67891233-abcdef012345678912345678;Parent=463ac35c9f6413ad;Sampled=?".into(),
            ),
            ..EventCarrier::default()
        };
        let choice = choose(ORDERS[3], &deferred_event, Some(LAMBDA), ExportTarget::Otlp);
        assert_eq!(
            choice.trace.sampled, None,
            "the event's Sampled=? wins over Lambda's 1"
        );
        assert_eq!(choice.link.map(|l| l.context.sampled), Some(Some(true)));
    }

    #[test]
    fn one_sampling_decision_per_invocation() {
        let unsampled = EventCarrier {
            traceparent: Some(W3C.replace("-01", "-00").into()),
            ..EventCarrier::default()
        };
        let unsampled = choose(ORDERS[0], &unsampled, Some(LAMBDA), ExportTarget::Otlp);
        let undecided = choose(
            ORDERS[0],
            &carrier(&[]),
            Some(PASS_THROUGH),
            ExportTarget::Otlp,
        );
        let parent_on = Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
        let parent_off = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        assert!(
            unsampled.sampled(&Sampler::AlwaysOn),
            "always_on records anyway"
        );
        assert!(
            !unsampled.sampled(&parent_on),
            "parentbased follows the parent"
        );
        assert!(undecided.sampled(&parent_on), "undecided: the root sampler");
        assert!(!undecided.sampled(&parent_off));
        assert_eq!(unsampled.sampled(&parent_on), unsampled.sampled(&parent_on));
    }

    #[test]
    fn tracestate_is_kept_only_from_a_w3c_parent() {
        let choice = choose(ORDERS[0], &carrier(&[W]), Some(LAMBDA), ExportTarget::Otlp);
        assert_eq!(choice.trace_state.header(), TRACESTATE);
        let choice = choose(ORDERS[1], &carrier(&[W]), Some(LAMBDA), ExportTarget::Otlp);
        assert_eq!(choice.trace_state, TraceState::NONE);
        let lone_tracestate = EventCarrier {
            tracestate: Some(TRACESTATE.into()),
            ..EventCarrier::default()
        };
        let choice = choose(
            ORDERS[0],
            &lone_tracestate,
            Some(LAMBDA),
            ExportTarget::Otlp,
        );
        assert_outcome(&choice, Parent(L), None, "tracestate without traceparent");
        assert_eq!(choice.trace_state, TraceState::NONE);
    }

    #[test]
    fn a_link_never_repeats_the_parent() {
        // The event's X-Ray header names the very context Lambda hands over.
        let same = EventCarrier {
            xray: Some(LAMBDA.into()),
            ..EventCarrier::default()
        };
        for target in [ExportTarget::Otlp, ExportTarget::Xray] {
            let choice = choose(ORDERS[3], &same, Some(LAMBDA), target);
            assert_eq!(choice.link, None, "{target:?}");
            assert_eq!(choice.trace.parent_span_id, Some(L.span_id()));
        }
    }

    #[test]
    fn lambda_only_matches_the_header_alone() {
        for header in [
            Some(LAMBDA),
            Some(PASS_THROUGH),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?"),
            Some("Root=nonsense;Parent=53995c3f42cd8ad8"),
            Some(""),
            None,
        ] {
            let choice = choose(&[XRayLambda], &carrier(&[]), header, ExportTarget::Otlp);
            let alone = TraceContext::from_xray_header(header, doc_time());
            assert_eq!(choice.link, None, "{header:?}");
            assert_eq!(choice.trace.origin, alone.origin, "{header:?}");
            assert_eq!(
                choice.trace.parent_span_id, alone.parent_span_id,
                "{header:?}"
            );
            assert_eq!(choice.trace.sampled, alone.sampled, "{header:?}");
            if alone.origin != TraceOrigin::Generated {
                assert_eq!(choice.trace.trace_id, alone.trace_id, "{header:?}");
            }
        }
    }

    #[test]
    fn from_an_http_event_with_mixed_case_headers() {
        let event = format!(
            r#"{{"httpMethod":"GET","resource":"/","requestContext":{{}},
            "headers":{{"TRACEPARENT":"{W3C}","TraceState":"{TRACESTATE}","x-AMZN-trace-ID":"{EVENT_XRAY}"}}}}"#
        );
        let parsed = ParsedBody::new(event.as_bytes(), true);
        let carrier = EventCarrier::of(&parsed);
        let choice = choose(ORDERS[0], &carrier, Some(LAMBDA), ExportTarget::Otlp);
        assert_outcome(&choice, Parent(W), Some(L), "HTTP event");
        assert_eq!(choice.trace_state.header(), TRACESTATE);
        let choice = choose(ORDERS[3], &carrier, Some(LAMBDA), ExportTarget::Otlp);
        assert_outcome(&choice, Parent(E), Some(L), "HTTP event, xray first");
    }

    #[test]
    fn from_a_single_sqs_message() {
        let event = format!(
            r#"{{"Records":[{{"eventSource":"aws:sqs","attributes":{{"AWSTraceHeader":"{EVENT_XRAY}"}},"messageAttributes":{{}}}}]}}"#
        );
        let parsed = ParsedBody::new(event.as_bytes(), true);
        let choice = choose(
            ORDERS[2],
            &EventCarrier::of(&parsed),
            Some(LAMBDA),
            ExportTarget::Otlp,
        );
        assert_outcome(&choice, Parent(E), Some(L), "one SQS message");
    }
}
