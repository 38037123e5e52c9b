//! Amazon DynamoDB Streams: `Records[]` whose `eventSource` is `aws:dynamodb`; a cut head is
//! recognised by its records' `dynamodb` key.
//!
//! Attributes: `aws.dynamodb.table_names` (from `eventSourceARN`), the FaaS data-source attributes
//! of the first record — `faas.document.collection` (the table: DynamoDB has no database above it),
//! `faas.document.operation` (`eventName` `INSERT`/`MODIFY`/`REMOVE` → `insert`/`edit`/`delete`),
//! `faas.document.time` (`ApproximateCreationDateTime`, epoch seconds, as ISO 8601 UTC) — and
//! `lambda_lens.event.record_count` (no convention counts the records of a data-source event). An
//! invocation has one span, so the first record speaks for the batch. `faas.document.name` is left
//! out: the convention names a document or table there, and an item's keys are data (they may be
//! personal), not a name.
//! Records: `eventID`, `eventSourceARN` (the table's stream); no trace context.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

use super::attributes::{Document, DocumentOperation};
use super::context::RecordField;
use super::fields::{arn_resource, text};
use super::records::{is_record, stream_record_field, Batch};
use super::{AttrValue, EventAttributes, EventSource, HeadSniff, ParsedBody, Trigger};
use crate::json::PathStep;
use crate::redact::RedactionRules;
use crate::spans::names::{lens, semconv};

const NAME: &str = "aws:dynamodb";

/// Amazon DynamoDB Streams.
pub(super) struct DynamoDb;

/// The operation a stream record's `eventName` reports.
fn operation(event_name: &str) -> Option<DocumentOperation> {
    match event_name {
        "INSERT" => Some(DocumentOperation::Insert),
        "MODIFY" => Some(DocumentOperation::Edit),
        "REMOVE" => Some(DocumentOperation::Delete),
        _ => None,
    }
}

/// Epoch seconds as ISO 8601 in UTC, to the second (the stream's approximate creation time has
/// no finer grain); `None` for a value no clock can hold.
fn iso_8601(epoch_seconds: f64) -> Option<String> {
    let seconds = Duration::try_from_secs_f64(epoch_seconds).ok()?;
    let time = UNIX_EPOCH.checked_add(seconds)?;
    Some(humantime::format_rfc3339_seconds(time).to_string())
}

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
        let time = batch
            .first
            .pointer("/dynamodb/ApproximateCreationDateTime")
            .and_then(Value::as_f64)
            .and_then(iso_8601);
        out.document(Document {
            collection: table,
            operation: text(batch.first, "eventName").and_then(operation),
            time: time.as_deref(),
            name: None,
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(event: &[u8]) -> Vec<(&'static str, AttrValue)> {
        let mut out = EventAttributes::default();
        DynamoDb.attributes(
            &ParsedBody::new(event, true),
            &RedactionRules::default(),
            &mut out,
        );
        out.attributes
    }

    fn s(value: &str) -> AttrValue {
        AttrValue::Str(value.to_owned())
    }

    #[test]
    fn the_first_record_gives_the_document_attributes() {
        let event = br#"{"Records":[{"eventSource":"aws:dynamodb","eventName":"MODIFY","eventSourceARN":"arn:aws:dynamodb:us-west-2:1:table/Orders/stream/2015-06-27T00:48:05.899","dynamodb":{"ApproximateCreationDateTime":1428537600,"Keys":{"Id":{"N":"101"}}}},{"eventSource":"aws:dynamodb","eventName":"REMOVE"}]}"#;
        assert_eq!(
            attributes(event),
            [
                (
                    semconv::AWS_DYNAMODB_TABLE_NAMES,
                    AttrValue::StrArray(vec!["Orders".into()])
                ),
                (semconv::FAAS_DOCUMENT_COLLECTION, s("Orders")),
                (semconv::FAAS_DOCUMENT_OPERATION, s("edit")),
                (semconv::FAAS_DOCUMENT_TIME, s("2015-04-09T00:00:00Z")),
                (lens::EVENT_RECORD_COUNT, AttrValue::Int(2)),
            ]
        );
    }

    #[test]
    fn stream_event_names_map_to_document_operations() {
        assert_eq!(operation("INSERT"), Some(DocumentOperation::Insert));
        assert_eq!(operation("MODIFY"), Some(DocumentOperation::Edit));
        assert_eq!(operation("REMOVE"), Some(DocumentOperation::Delete));
        assert_eq!(operation("insert"), None);
        assert_eq!(iso_8601(-1.0), None);
        assert_eq!(iso_8601(f64::NAN), None);
        assert_eq!(iso_8601(0.5).as_deref(), Some("1970-01-01T00:00:00Z"));
    }
}
