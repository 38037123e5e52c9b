//! The invocation span of a batch (SQS, SNS, Kinesis, DynamoDB Streams, Kafka) as the
//! OpenTelemetry messaging conventions draw a consumer that processes messages
//! (`messaging-spans.md`; `faas/aws-lambda.md` for SQS): a CONSUMER span named
//! `process {destination}`, with `messaging.operation.name` and `messaging.operation.type` both
//! `process`, `messaging.destination.name`, `messaging.batch.message_count` when the whole body
//! was read, and one link per record that carries a context ([`super::links`]).

use std::borrow::Cow;

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanLinks;

use super::links::record_links;
use super::names::semconv;
use crate::event::{destination_name, RecordScan, Source};
use crate::trace_context::Propagators;

/// The operation a function performs on the messages it is handed.
const PROCESS: &str = "process";

/// How a batch invocation's span differs from another's.
pub(super) struct Consumer {
    /// `process {destination}`, or `process` when the destination is unknown.
    pub(super) name: Cow<'static, str>,
    /// The links to the records' producers.
    pub(super) links: SpanLinks,
}

/// The consumer shape of an invocation whose event came from `source`, for a batch source:
/// adds the messaging attributes `attributes` lacks, the batch's size from `scan` (the records the
/// proxy read as the event passed) and its links, ordered per `propagators`.
pub(super) fn consumer(
    source: Source,
    scan: Option<&RecordScan>,
    propagators: &Propagators,
    attributes: &mut Vec<KeyValue>,
) -> Option<Consumer> {
    if !source.is_batch() {
        return None;
    }
    let has =
        |attributes: &[KeyValue], key: &str| attributes.iter().any(|kv| kv.key.as_str() == key);
    let mut destination = attributes
        .iter()
        .find(|kv| kv.key.as_str() == semconv::MESSAGING_DESTINATION_NAME)
        .map(|kv| kv.value.as_str().into_owned());
    if destination.is_none() {
        destination = scan
            .and_then(|scan| scan.destination.as_deref())
            .and_then(destination_name)
            .map(str::to_owned);
        if let Some(name) = &destination {
            attributes.push(KeyValue::new(
                semconv::MESSAGING_DESTINATION_NAME,
                name.clone(),
            ));
        }
    }
    attributes.push(KeyValue::new(semconv::MESSAGING_OPERATION_NAME, PROCESS));
    if !has(attributes, semconv::MESSAGING_OPERATION_TYPE) {
        attributes.push(KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, PROCESS));
    }
    if let Some(scan) = scan.filter(|scan| scan.complete) {
        // The whole body's count replaces one read from the captured head (they agree when both
        // exist).
        attributes.retain(|kv| kv.key.as_str() != semconv::MESSAGING_BATCH_MESSAGE_COUNT);
        attributes.push(KeyValue::new(
            semconv::MESSAGING_BATCH_MESSAGE_COUNT,
            Value::I64(i64::try_from(scan.records).unwrap_or(i64::MAX)),
        ));
    }
    Some(Consumer {
        name: destination.map_or(Cow::Borrowed(PROCESS), |name| {
            Cow::Owned(format!("{PROCESS} {name}"))
        }),
        links: scan.map_or_else(SpanLinks::default, |scan| record_links(scan, propagators)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(complete: bool) -> RecordScan {
        RecordScan {
            contexts: Vec::new(),
            records: 10_000,
            dropped: 0,
            destination: Some(
                "arn:aws:dynamodb:us-east-2:123456789012:table/orders/stream/x".into(),
            ),
            complete,
        }
    }

    fn value<'a>(attributes: &'a [KeyValue], key: &str) -> Vec<&'a Value> {
        attributes
            .iter()
            .filter(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
            .collect()
    }

    #[test]
    fn batches_are_consumers_named_after_their_destination() {
        let mut attributes = vec![
            KeyValue::new(semconv::MESSAGING_DESTINATION_NAME, "queue"),
            KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, PROCESS),
            KeyValue::new(semconv::MESSAGING_BATCH_MESSAGE_COUNT, 3),
        ];
        let shape = consumer(
            Source::Sqs,
            Some(&scan(true)),
            &Propagators::default(),
            &mut attributes,
        )
        .expect("a batch");
        assert_eq!(shape.name, "process queue");
        assert_eq!(
            value(&attributes, semconv::MESSAGING_OPERATION_TYPE).len(),
            1
        );
        assert_eq!(
            value(&attributes, semconv::MESSAGING_BATCH_MESSAGE_COUNT),
            [&Value::I64(10_000)]
        );
        assert_eq!(
            value(&attributes, semconv::MESSAGING_OPERATION_NAME),
            [&Value::from(PROCESS)]
        );

        let mut attributes = Vec::new();
        let shape = consumer(
            Source::DynamoDb,
            Some(&scan(false)),
            &Propagators::default(),
            &mut attributes,
        )
        .expect("a batch");
        assert_eq!(shape.name, "process orders");
        assert!(value(&attributes, semconv::MESSAGING_BATCH_MESSAGE_COUNT).is_empty());
        assert_eq!(
            value(&attributes, semconv::MESSAGING_DESTINATION_NAME),
            [&Value::from("orders")]
        );

        let shape = consumer(
            Source::Kafka,
            None,
            &Propagators::default(),
            &mut Vec::new(),
        );
        assert_eq!(shape.map(|shape| shape.name), Some(Cow::Borrowed(PROCESS)));
    }

    #[test]
    fn other_events_keep_their_shape() {
        for source in [Source::Http, Source::S3, Source::EventBridge, Source::Other] {
            let mut attributes = Vec::new();
            assert!(consumer(
                source,
                Some(&scan(true)),
                &Propagators::default(),
                &mut attributes
            )
            .is_none());
            assert!(attributes.is_empty());
        }
    }
}
