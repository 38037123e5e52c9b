//! The invocation span's links. Two kinds:
//! - the context its parent choice did not take (the Lambda X-Ray context when the event's own was
//!   chosen, or the reverse for the X-Ray export target), with `lambda_lens.link.source`;
//! - for a batch invocation, one link per record that carries a trace context, to the
//!   span that produced the message, with the record's `messaging.message.id` (OpenTelemetry
//!   messaging conventions, `messaging-spans.md`: a consumer that processes a batch links to each
//!   message's creation context).
//!
//! A record carrying both an X-Ray header and a W3C context gives one link: the carrier the first
//! propagator of `OTEL_PROPAGATORS` reads (`tracecontext` the W3C context, `xray` and
//! `xray-lambda` the X-Ray header; by default W3C first), then the other. A carrier that does not
//! hold a valid span context is passed over. Links are kept for the first
//! [`LINK_LIMIT`](crate::event::LINK_LIMIT) records that carry a context; the records after them
//! are the span's dropped-links count.

use opentelemetry::trace::{Link, SpanContext, TraceFlags};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanLinks;

use super::names::{lens, semconv};
use crate::correlate::InvocationSummary;
use crate::event::{Carrier, RecordContext, RecordScan};
use crate::trace_context::{
    remote_context, ContextLink, Propagator, Propagators, RemoteContext, XRayHeader,
};

/// Every link of the invocation span of `inv`: the parent choice's left-over context first, then
/// `records`, the links of a batch's records.
pub(super) fn invocation_links(inv: &InvocationSummary, mut records: SpanLinks) -> SpanLinks {
    if let Some(link) = inv.parent.link.as_ref() {
        records.links.insert(0, choice_link(link));
    }
    records
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

/// The links to the producers of the records `scan` found, W3C or X-Ray first as `propagators`
/// order them.
pub(super) fn record_links(scan: &RecordScan, propagators: &Propagators) -> SpanLinks {
    let w3c_first = propagators
        .iter()
        .find_map(|propagator| match propagator {
            Propagator::TraceContext => Some(true),
            Propagator::XRay | Propagator::XRayLambda => Some(false),
            Propagator::Baggage => None,
        })
        .unwrap_or(true);
    let mut links = Vec::new();
    // A record's contexts are adjacent in the scan (X-Ray first, then W3C).
    for record in scan.contexts.chunk_by(|a, b| a.record == b.record) {
        let read = |want_w3c: bool| {
            record
                .iter()
                .filter(|context| matches!(context.carrier, Carrier::W3c { .. }) == want_w3c)
                .find_map(|context| Some((context, remote(&context.carrier)?)))
        };
        if let Some((context, remote)) = read(w3c_first).or_else(|| read(!w3c_first)) {
            links.push(link(context, remote));
        }
    }
    let mut out = SpanLinks::default();
    out.links = links;
    out.dropped_count = u32::try_from(scan.dropped).unwrap_or(u32::MAX);
    out
}

/// The span context a record's carrier names, when it is valid.
fn remote(carrier: &Carrier) -> Option<RemoteContext> {
    match carrier {
        Carrier::XRay(header) => XRayHeader::parse(header).remote(),
        Carrier::W3c {
            traceparent,
            tracestate,
        } => remote_context(traceparent, tracestate.as_deref()),
    }
}

/// The link to one record's producer.
fn link(context: &RecordContext, remote: RemoteContext) -> Link {
    let flags = match remote.sampled {
        Some(true) => TraceFlags::SAMPLED,
        Some(false) | None => TraceFlags::default(),
    };
    let span_context = SpanContext::new(
        remote.trace_id,
        remote.span_id,
        flags,
        true,
        remote.trace_state,
    );
    let attributes = context
        .message_id
        .iter()
        .map(|id| KeyValue::new(semconv::MESSAGING_MESSAGE_ID, id.clone()))
        .collect();
    Link::new(span_context, attributes, 0)
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceId};

    use super::*;

    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

    fn context(record: usize, id: Option<&str>, carrier: Carrier) -> RecordContext {
        RecordContext {
            record,
            message_id: id.map(str::to_owned),
            carrier,
        }
    }

    fn w3c(tracestate: Option<&str>) -> Carrier {
        Carrier::W3c {
            traceparent: TRACEPARENT.into(),
            tracestate: tracestate.map(str::to_owned),
        }
    }

    fn ids(links: &SpanLinks) -> Vec<(String, String, bool, Vec<KeyValue>)> {
        links
            .iter()
            .map(|link| {
                let ctx = &link.span_context;
                (
                    ctx.trace_id().to_string(),
                    ctx.span_id().to_string(),
                    ctx.is_sampled(),
                    link.attributes.clone(),
                )
            })
            .collect()
    }

    fn message_id(id: &str) -> Vec<KeyValue> {
        vec![KeyValue::new(semconv::MESSAGING_MESSAGE_ID, id.to_owned())]
    }

    #[test]
    fn one_link_per_record_in_propagator_order() {
        let scan = RecordScan {
            contexts: vec![
                context(0, Some("m-0"), Carrier::XRay(XRAY.into())),
                context(0, Some("m-0"), w3c(Some("k=v"))),
                context(2, None, Carrier::XRay(XRAY.into())),
            ],
            records: 3,
            dropped: 4,
            destination: None,
            complete: true,
        };
        let xray = (
            "5759e988bd862e3fe1be46a994272793".to_owned(),
            "53995c3f42cd8ad8".to_owned(),
            true,
        );
        let w3c = (
            "0af7651916cd43dd8448eb211c80319c".to_owned(),
            "b7ad6b7169203331".to_owned(),
            false,
        );
        let links = record_links(&scan, &Propagators::default());
        assert_eq!(
            ids(&links),
            [
                (w3c.0.clone(), w3c.1.clone(), w3c.2, message_id("m-0")),
                (xray.0.clone(), xray.1.clone(), xray.2, vec![]),
            ]
        );
        assert_eq!(links.dropped_count, 4);
        assert_eq!(links.links[0].span_context.trace_state().header(), "k=v");
        assert!(links.links[0].span_context.is_remote());

        let xray_first = Propagators::new([Propagator::Baggage, Propagator::XRay]);
        let links = record_links(&scan, &xray_first);
        assert_eq!(ids(&links)[0], (xray.0, xray.1, xray.2, message_id("m-0")));
    }

    #[test]
    fn invalid_carriers_are_passed_over() {
        let scan = RecordScan {
            contexts: vec![
                context(0, None, Carrier::XRay(XRAY.into())),
                context(
                    0,
                    None,
                    Carrier::W3c {
                        traceparent: "00-zz".into(),
                        tracestate: None,
                    },
                ),
                context(
                    1,
                    None,
                    Carrier::XRay("Root=1-5759e988-bd862e3fe1be46a994272793".into()),
                ),
            ],
            ..RecordScan::default()
        };
        let links = record_links(&scan, &Propagators::none());
        assert_eq!(links.len(), 1);
        let ctx = &links.links[0].span_context;
        assert_eq!(
            (ctx.trace_id(), ctx.span_id()),
            (
                TraceId::from_hex("5759e988bd862e3fe1be46a994272793").unwrap(),
                SpanId::from_hex("53995c3f42cd8ad8").unwrap()
            )
        );
    }
}
