//! The propagation carrier of an event: the trace context it carries for its invocation's parent
//! (read by the propagators, see [`crate::trace_context::ParentChoice`]).
//!
//! An HTTP-shaped event carries its request's headers `traceparent`, `tracestate` and
//! `X-Amzn-Trace-Id` (names in any case). A message source's event carries its message's context
//! ([`ParsedBody::record_contexts`]) only when it holds exactly one message and was
//! captured whole: the messages of a batch have a producer each, so their contexts are links, not
//! a parent, and a cut head cannot tell one message from the first of many.

use std::borrow::Cow;

use super::context::Carrier;
use super::ParsedBody;

/// What an event carries for context extraction; every part may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventCarrier<'a> {
    /// W3C `traceparent`, as carried (not validated).
    pub traceparent: Option<Cow<'a, str>>,
    /// W3C `tracestate`, as carried.
    pub tracestate: Option<Cow<'a, str>>,
    /// The event's own X-Ray header (`X-Amzn-Trace-Id`, an SQS message's `AWSTraceHeader`), as
    /// carried.
    pub xray: Option<Cow<'a, str>>,
}

impl<'a> EventCarrier<'a> {
    /// The carrier of `event`.
    pub fn of(event: &'a ParsedBody<'_>) -> Self {
        if let Some(headers) = event.headers() {
            return Self {
                traceparent: headers.get("traceparent").map(Cow::Borrowed),
                tracestate: headers.get("tracestate").map(Cow::Borrowed),
                xray: headers.get("x-amzn-trace-id").map(Cow::Borrowed),
            };
        }
        let single_message = event.complete()
            && event
                .value()
                .is_some_and(|value| event.source().behaviour().record_count(value) == 1);
        let mut carrier = Self::default();
        if !single_message {
            return carrier;
        }
        for context in event.record_contexts() {
            match context.carrier {
                Carrier::XRay(header) => carrier.xray = Some(Cow::Owned(header)),
                Carrier::W3c {
                    traceparent,
                    tracestate,
                } => {
                    carrier.traceparent = Some(Cow::Owned(traceparent));
                    carrier.tracestate = tracestate.map(Cow::Owned);
                }
            }
        }
        carrier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACEPARENT: &str = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";
    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    /// Asserts that `event` (its head `complete` or cut) carries `expected`.
    fn assert_carrier(event: &str, complete: bool, expected: &EventCarrier<'_>) {
        let parsed = ParsedBody::new(event.as_bytes(), complete);
        assert_eq!(&EventCarrier::of(&parsed), expected, "{event}");
    }

    fn w3c_and_xray(tracestate: Option<&'static str>) -> EventCarrier<'static> {
        EventCarrier {
            traceparent: Some(TRACEPARENT.into()),
            tracestate: tracestate.map(Into::into),
            xray: Some(XRAY.into()),
        }
    }

    #[test]
    fn http_headers_in_any_case() {
        let event = format!(
            r#"{{"version":"2.0","rawPath":"/","routeKey":"$default","requestContext":{{"http":{{"method":"GET"}}}},
            "headers":{{"TraceParent":"{TRACEPARENT}","TRACESTATE":"k=v","X-Amzn-Trace-Id":"{XRAY}"}}}}"#
        );
        assert_carrier(&event, true, &w3c_and_xray(Some("k=v")));
        let rest = format!(
            r#"{{"httpMethod":"GET","resource":"/","requestContext":{{}},"headers":null,
            "multiValueHeaders":{{"traceparent":["{TRACEPARENT}"],"x-amzn-trace-id":["{XRAY}"]}}}}"#
        );
        assert_carrier(&rest, true, &w3c_and_xray(None));
        let bare =
            r#"{"httpMethod":"GET","resource":"/","requestContext":{},"headers":{"Accept":"*/*"}}"#;
        assert_carrier(bare, true, &EventCarrier::default());
    }

    fn sqs(messages: usize) -> String {
        let message = format!(
            r#"{{"eventSource":"aws:sqs","attributes":{{"AWSTraceHeader":"{XRAY}"}},
            "messageAttributes":{{"traceparent":{{"stringValue":"{TRACEPARENT}","dataType":"String"}}}}}}"#
        );
        format!(r#"{{"Records":[{}]}}"#, vec![message; messages].join(","))
    }

    #[test]
    fn a_single_message_carries_its_context() {
        assert_carrier(&sqs(1), true, &w3c_and_xray(None));
        let sns = format!(
            r#"{{"Records":[{{"EventSource":"aws:sns","Sns":{{"MessageAttributes":{{"TraceParent":{{"Type":"String","Value":"{TRACEPARENT}"}}}}}}}}]}}"#
        );
        let traceparent_only = EventCarrier {
            traceparent: Some(TRACEPARENT.into()),
            ..EventCarrier::default()
        };
        assert_carrier(&sns, true, &traceparent_only);
        let traceparent: Vec<String> = TRACEPARENT.bytes().map(|b| b.to_string()).collect();
        let kafka = format!(
            r#"{{"eventSource":"aws:kafka","records":{{"t-0":[{{"headers":[{{"traceparent":[{}]}}]}}]}}}}"#,
            traceparent.join(",")
        );
        assert_carrier(&kafka, true, &traceparent_only);
    }

    #[test]
    fn batches_and_cut_heads_carry_none() {
        let none = EventCarrier::default();
        assert_carrier(&sqs(2), true, &none);
        assert_carrier(&sqs(1), false, &none);
        assert_carrier(&sqs(0), true, &none);
        assert_carrier(
            include_str!("../../tests/fixtures/events/s3.json"),
            true,
            &none,
        );
        assert_carrier("not json", true, &none);
    }
}
