//! Amazon SQS: `Records[]` whose `eventSource` is `aws:sqs`; a cut head is recognised by its records'
//! `receiptHandle`, which comes before `eventSource`.
//!
//! Attributes: `messaging.system`=`aws_sqs` (the registered value), `messaging.destination.name`
//! (the queue, from `eventSourceARN`), `messaging.operation.type`=`process`,
//! `messaging.batch.message_count`. Records: `messageId`, `eventSourceARN` (the queue), and the
//! contexts `attributes.AWSTraceHeader` (X-Ray) and the `traceparent`/`tracestate` message
//! attributes (W3C, `messageAttributes.<name>.stringValue`).

use super::context::{RecordField, W3cField};
use super::fields::arn_resource;
use super::records::{is_record, Batch, SOURCE_ARN};
use super::{EventAttributes, EventSource, HeadSniff, ParsedBody, Trigger};
use crate::json::PathStep;
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

    fn is_record(&self, path: &[PathStep<'_>]) -> bool {
        is_record(path)
    }

    fn record_field(&self, path: &[PathStep<'_>]) -> Option<RecordField> {
        use PathStep::Key;
        match path {
            [Key("messageId")] => Some(RecordField::MessageId),
            [Key(SOURCE_ARN)] => Some(RecordField::Destination),
            [Key("attributes"), Key("AWSTraceHeader")] => Some(RecordField::XRay),
            [Key("messageAttributes"), Key(name), Key("stringValue")] => {
                W3cField::named(name).map(RecordField::W3c)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Carrier, RecordContext, Source};

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
                    message_id: None,
                    carrier: Carrier::XRay(
                        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                            .into()
                    ),
                },
                RecordContext {
                    record: 1,
                    message_id: None,
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
