//! Amazon SNS: `Records[]` whose `EventSource` (so spelt) is `aws:sns`; a cut head is recognised by
//! its records' `Sns` key.
//!
//! Attributes: `messaging.system`=`aws.sns` (the registered value), `messaging.destination.name`
//! (the topic), `aws.sns.topic.arn`, `messaging.message.id`, `messaging.operation.type`=`process`.
//! Records: `Sns.MessageId`, `Sns.TopicArn`, and the context in the `traceparent`/`tracestate`
//! message attributes (`Sns.MessageAttributes.<name>.Value`).

use super::context::{RecordField, W3cField};
use super::fields::{arn_resource, text};
use super::records::{is_record, Batch};
use super::{EventAttributes, EventSource, HeadSniff, ParsedBody, Trigger};
use crate::json::PathStep;
use crate::redact::RedactionRules;
use crate::spans::names::semconv;

const NAME: &str = "aws:sns";

/// Amazon SNS.
pub(super) struct Sns;

impl EventSource for Sns {
    fn trigger(&self) -> Trigger {
        Trigger::PubSub
    }

    fn names(&self) -> &'static [&'static str] {
        &[NAME]
    }

    fn detect_head(&self, head: &HeadSniff<'_>) -> bool {
        head.has_records() && head.has(b"\"Sns\"")
    }

    fn attributes(&self, event: &ParsedBody<'_>, _: &RedactionRules, out: &mut EventAttributes) {
        let Some(batch) = Batch::of(event, NAME) else {
            return;
        };
        let sns = batch.first.get("Sns");
        let topic_arn = sns.and_then(|s| text(s, "TopicArn"));
        out.messaging("aws.sns", topic_arn.and_then(arn_resource));
        if let Some(arn) = topic_arn {
            out.str(semconv::AWS_SNS_TOPIC_ARN, arn);
        }
        if let Some(id) = sns.and_then(|s| text(s, "MessageId")) {
            out.str(semconv::MESSAGING_MESSAGE_ID, id);
        }
    }

    fn is_record(&self, path: &[PathStep<'_>]) -> bool {
        is_record(path)
    }

    fn record_field(&self, path: &[PathStep<'_>]) -> Option<RecordField> {
        use PathStep::Key;
        match path {
            [Key("Sns"), Key("MessageId")] => Some(RecordField::MessageId),
            [Key("Sns"), Key("TopicArn")] => Some(RecordField::Destination),
            [Key("Sns"), Key("MessageAttributes"), Key(name), Key("Value")] => {
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
    fn record_contexts_from_message_attributes() {
        let event = br#"{"Records":[
            {"EventSource":"aws:sns","Sns":{"MessageAttributes":{"Test":{"Type":"String","Value":"x"}}}},
            {"EventSource":"aws:sns","Sns":{"MessageAttributes":{"traceparent":{"Type":"String","Value":"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00"}}}}
        ]}"#;
        let parsed = ParsedBody::new(event, true);
        assert_eq!(parsed.source(), Source::Sns);
        assert_eq!(
            parsed.record_contexts(),
            vec![RecordContext {
                record: 1,
                message_id: None,
                carrier: Carrier::W3c {
                    traceparent: "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00".into(),
                    tracestate: None,
                },
            }]
        );
        let fixture = ParsedBody::new(include_bytes!("../../tests/fixtures/events/sns.json"), true);
        assert!(fixture.record_contexts().is_empty());
    }
}
