//! Amazon DynamoDB Streams: `Records[]` whose `eventSource` is `aws:dynamodb`; a cut head is
//! recognised by its records' `dynamodb` key.
//!
//! Attributes: `aws.dynamodb.table_names` (from `eventSourceARN`),
//! `lambda_lens.event.record_count` (no convention counts the records of a data-source event).
//! Records: `eventID`, `eventSourceARN` (the table's stream); no trace context.

use super::context::RecordField;
use super::fields::arn_resource;
use super::records::{is_record, stream_record_field, Batch};
use super::{AttrValue, EventAttributes, EventSource, HeadSniff, ParsedBody, Trigger};
use crate::json::PathStep;
use crate::redact::RedactionRules;
use crate::spans::names::{lens, semconv};

const NAME: &str = "aws:dynamodb";

/// Amazon DynamoDB Streams.
pub(super) struct DynamoDb;

impl EventSource for DynamoDb {
    fn trigger(&self) -> Trigger {
        Trigger::Datasource
    }

    fn names(&self) -> &'static [&'static str] {
        &[NAME]
    }

    fn detect_head(&self, head: &HeadSniff<'_>) -> bool {
        head.has_records() && head.has(b"\"dynamodb\"")
    }

    fn attributes(&self, event: &ParsedBody<'_>, _: &RedactionRules, out: &mut EventAttributes) {
        let Some(batch) = Batch::of(event, NAME) else {
            return;
        };
        let table = arn_resource(batch.source_arn())
            .and_then(|r| r.strip_prefix("table/"))
            .and_then(|r| r.split('/').next());
        if let Some(table) = table {
            out.attributes.push((
                semconv::AWS_DYNAMODB_TABLE_NAMES,
                AttrValue::StrArray(vec![table.to_owned()]),
            ));
        }
        if let Some(count) = batch.count() {
            out.int(lens::EVENT_RECORD_COUNT, count);
        }
    }

    fn is_record(&self, path: &[PathStep<'_>]) -> bool {
        is_record(path)
    }

    fn record_field(&self, path: &[PathStep<'_>]) -> Option<RecordField> {
        stream_record_field(path)
    }
}
