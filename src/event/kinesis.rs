//! Amazon Kinesis Data Streams: `Records[]` whose `eventSource` is `aws:kinesis`; a cut head is
//! recognised by its records' `kinesis` key.
//!
//! Attributes: `messaging.system`=`aws.kinesis` (a custom value in the style of `aws.sns`: the
//! registry has none), `messaging.destination.name` and `aws.kinesis.stream_name` (from
//! `eventSourceARN`), `messaging.operation.type`=`process`, `messaging.batch.message_count`.
//! Records: `eventID` (the shard and sequence number: unique in the stream, where a sequence number
//! alone is unique in its shard) and `eventSourceARN`; they carry no trace context (a producer's
//! could only be inside the opaque `kinesis.data`).

use super::context::RecordField;
use super::fields::arn_resource;
use super::records::{is_record, stream_record_field, Batch};
use super::{EventAttributes, EventSource, HeadSniff, ParsedBody, Trigger};
use crate::json::PathStep;
use crate::redact::RedactionRules;
use crate::spans::names::semconv;

const NAME: &str = "aws:kinesis";

/// Amazon Kinesis Data Streams.
pub(super) struct Kinesis;

impl EventSource for Kinesis {
    fn trigger(&self) -> Trigger {
        Trigger::PubSub
    }

    fn names(&self) -> &'static [&'static str] {
        &[NAME]
    }

    fn detect_head(&self, head: &HeadSniff<'_>) -> bool {
        head.has_records() && head.has(b"\"kinesis\"")
    }

    fn attributes(&self, event: &ParsedBody<'_>, _: &RedactionRules, out: &mut EventAttributes) {
        let Some(batch) = Batch::of(event, NAME) else {
            return;
        };
        let stream = arn_resource(batch.source_arn())
            .and_then(|r| r.strip_prefix("stream/"))
            .and_then(|r| r.split('/').next());
        out.messaging("aws.kinesis", stream);
        if let Some(stream) = stream {
            out.str(semconv::AWS_KINESIS_STREAM_NAME, stream);
        }
        if let Some(count) = batch.count() {
            out.int(semconv::MESSAGING_BATCH_MESSAGE_COUNT, count);
        }
    }

    fn is_record(&self, path: &[PathStep<'_>]) -> bool {
        is_record(path)
    }

    fn record_field(&self, path: &[PathStep<'_>]) -> Option<RecordField> {
        stream_record_field(path)
    }
}
