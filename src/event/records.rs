//! What the `Records[]` sources share (SQS, SNS, Kinesis, S3, DynamoDB Streams): where the records
//! are, the name a record gives its source, what a stream's record holds for its link, and the
//! batch as its attributes see it, judged by its first record.

use serde_json::Value;

use super::context::RecordField;
use super::fields::text;
use super::ParsedBody;
use crate::json::PathStep;

/// The key of the records array.
const RECORDS: &str = "Records";

/// The key of a record's source ARN (SQS, Kinesis, DynamoDB Streams).
pub(super) const SOURCE_ARN: &str = "eventSourceARN";

/// Whether `path` (from the event's root) is an element of the `Records` array.
pub(super) fn is_record(path: &[PathStep<'_>]) -> bool {
    matches!(path, [PathStep::Key(RECORDS), PathStep::Index(_)])
}

/// What a Kinesis or DynamoDB Streams record holds for its link: its id (`eventID`) and its
/// stream (`eventSourceARN`).
pub(super) fn stream_record_field(path: &[PathStep<'_>]) -> Option<RecordField> {
    match path {
        [PathStep::Key("eventID")] => Some(RecordField::MessageId),
        [PathStep::Key(SOURCE_ARN)] => Some(RecordField::Destination),
        _ => None,
    }
}

/// A record's `eventSource` (SNS spells the key `EventSource`).
pub(super) fn record_source_name(record: &Value) -> Option<&str> {
    text(record, "eventSource").or_else(|| text(record, "EventSource"))
}

/// The `Records` array of an event (empty when there is none).
pub(super) fn records(event: &Value) -> &[Value] {
    event
        .get(RECORDS)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A batch of records, described by its first.
pub(super) struct Batch<'a> {
    /// The first record.
    pub(super) first: &'a Value,
    len: usize,
    complete: bool,
}

impl<'a> Batch<'a> {
    /// The batch of `event` when its first record names `source` (`aws:sqs`, …).
    pub(super) fn of(event: &'a ParsedBody<'_>, source: &str) -> Option<Self> {
        let records = records(event.value()?);
        let first = records.first()?;
        (record_source_name(first) == Some(source)).then_some(Self {
            first,
            len: records.len(),
            complete: event.complete(),
        })
    }

    /// The number of records; only known when the whole array was captured.
    pub(super) fn count(&self) -> Option<i64> {
        i64::try_from(self.len).ok().filter(|_| self.complete)
    }

    /// The first record's `eventSourceARN` (empty when it has none).
    pub(super) fn source_arn(&self) -> &'a str {
        text(self.first, SOURCE_ARN).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn batches_are_judged_by_their_first_record() {
        let event =
            br#"{"Records":[{"eventSource":"aws:sqs","eventSourceARN":"arn:q"},{"eventSource":"aws:sns"}]}"#;
        let whole = ParsedBody::new(event, true);
        let batch = Batch::of(&whole, "aws:sqs").expect("named by the first record");
        assert_eq!((batch.source_arn(), batch.count()), ("arn:q", Some(2)));
        assert!(Batch::of(&whole, "aws:sns").is_none());
        let cut = ParsedBody::new(event, false);
        assert_eq!(Batch::of(&cut, "aws:sqs").and_then(|b| b.count()), None);
        assert!(Batch::of(&ParsedBody::new(br#"{"Records":[]}"#, true), "aws:sqs").is_none());
        assert_eq!(
            record_source_name(&json!({"EventSource": "aws:sns"})),
            Some("aws:sns")
        );
    }
}
