//! Amazon SQS: `Records[]` whose `eventSource` is `aws:sqs`; a cut head is recognised by its records'
//! `receiptHandle`, which comes before `eventSource`.
//!
//! Attributes: `messaging.system`=`aws_sqs` (the registered value), `messaging.destination.name`
//! (the queue, from `eventSourceARN`), `messaging.operation.type`=`process`,
//! `messaging.batch.message_count`. Record contexts: `attributes.AWSTraceHeader` (X-Ray) and the
//! `traceparent`/`tracestate` message attributes (W3C).

use serde_json::Value;

use super::context::{Carrier, RecordContext};
use super::fields::{arn_resource, member_ignore_case, text};
use super::records::{records, Batch};
use super::{EventAttributes, EventSource, HeadSniff, ParsedBody, Trigger};
use crate::redact::RedactionRules;
use crate::spans::names::semconv;

const NAME: &str = "aws:sqs";

/// Amazon SQS.
pub(super) struct Sqs;

impl EventSource for Sqs {
    fn trigger(&self) -> Trigger {
        Trigger::PubSub
    }

    fn names(&self) -> &'static [&'static str] {
        &[NAME]
    }

    fn detect_head(&self, head: &HeadSniff<'_>) -> bool {
        head.has_records() && head.has(b"\"receiptHandle\"")
    }

    fn attributes(&self, event: &ParsedBody<'_>, _: &RedactionRules, out: &mut EventAttributes) {
        let Some(batch) = Batch::of(event, NAME) else {
            return;
        };
        out.messaging("aws_sqs", arn_resource(batch.source_arn()));
        if let Some(count) = batch.count() {
            out.int(semconv::MESSAGING_BATCH_MESSAGE_COUNT, count);
        }
    }

    fn record_contexts<'a>(&self, event: &'a Value) -> Vec<RecordContext<'a>> {
        let mut out = Vec::new();
        for (record, message) in records(event).iter().enumerate() {
            let xray = message
                .get("attributes")
                .and_then(|a| text(a, "AWSTraceHeader"))
                .map(Carrier::XRay);
            let attributes = message.get("messageAttributes").and_then(Value::as_object);
            let w3c = attributes.and_then(|attributes| {
                Carrier::w3c(|name| {
                    let attribute = member_ignore_case(attributes, name)?;
                    text(attribute, "stringValue").map(Into::into)
                })
            });
            out.extend(
                xray.into_iter()
                    .chain(w3c)
                    .map(|carrier| RecordContext { record, carrier }),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Source;

    #[test]
    fn record_contexts_from_trace_header_and_message_attributes() {
        let event = br#"{"Records":[
            {"eventSource":"aws:sqs","attributes":{"AWSTraceHeader":"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},"messageAttributes":{}},
            {"eventSource":"aws:sqs","attributes":{},"messageAttributes":{"TraceParent":{"stringValue":"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01","dataType":"String"},"tracestate":{"stringValue":"k=v","dataType":"String"}}},
            {"eventSource":"aws:sqs","attributes":{},"messageAttributes":{"other":{"stringValue":"x"}}}
        ]}"#;
        let parsed = ParsedBody::new(event, true);
        assert_eq!(parsed.source(), Source::Sqs);
        assert_eq!(
            parsed.record_contexts(),
            vec![
                RecordContext {
                    record: 0,
                    carrier: Carrier::XRay(
                        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                    ),
                },
                RecordContext {
                    record: 1,
                    carrier: Carrier::W3c {
                        traceparent: "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
                            .into(),
                        tracestate: Some("k=v".into()),
                    },
                },
            ]
        );
    }

    #[test]
    fn fixture_records_carry_no_context() {
        let parsed = ParsedBody::new(include_bytes!("../../tests/fixtures/events/sqs.json"), true);
        assert!(parsed.record_contexts().is_empty());
    }
}
