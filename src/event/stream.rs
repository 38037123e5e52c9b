//! The records of a whole event, read as it streams through the proxy: a [`RecordScanner`] is fed
//! the event's bytes chunk by chunk and tells, at the end, each record's trace context and message
//! id, how many records the event holds and where they were sent ([`RecordScan`]) — for batches
//! of up to 6 MB (10,000 SQS messages) in memory that does not grow with them.
//!
//! What it finds. Records are where a source says ([`EventSource::is_record`]: `Records[i]`, or
//! Kafka's `records.<topic-partition>[i]`); in each, the values its source names
//! ([`EventSource::record_field`]):
//!
//! | Source | Message id | Destination | Trace context |
//! |---|---|---|---|
//! | SQS | `messageId` | `eventSourceARN` | `attributes.AWSTraceHeader` (X-Ray); `messageAttributes.{traceparent,tracestate}.stringValue` (W3C) |
//! | SNS | `Sns.MessageId` | `Sns.TopicArn` | `Sns.MessageAttributes.{traceparent,tracestate}.Value` |
//! | Kinesis | `eventID` | `eventSourceARN` | none: it could only be inside the opaque `kinesis.data` |
//! | DynamoDB Streams | `eventID` | `eventSourceARN` | none |
//! | S3 | | | none |
//! | Kafka | | | `headers[j].{traceparent,tracestate}`, arrays of byte values |
//!
//! EventBridge events are single events with no context inside: EventBridge hands the producer's
//! X-Ray header to the target as the invocation's own trace header and not in the event (AWS
//! EventBridge User Guide, "Amazon EventBridge integration with AWS X-Ray"). Attribute and header
//! names match ignoring ASCII case; a field a record holds twice counts the first time. A record's
//! position counts every element of the records arrays in document order (Kafka: partition after
//! partition). A value of the wrong type reads as absent.
//!
//! Bounds. Contexts are kept for the first [`LINK_LIMIT`] records that carry one (128, the
//! OpenTelemetry SDK's default span link limit: `OTEL_SPAN_LINK_COUNT_LIMIT` in the
//! specification's SDK environment variables); later ones are only counted
//! ([`RecordScan::dropped`]), and every record is counted. A value longer than
//! [`crate::json::stream::TEXT_LIMIT`] (512 bytes: the `tracestate` length W3C Trace Context asks
//! to propagate at least; a `traceparent` is 55, X-Ray headers, ids and ARNs are far shorter) is
//! left out. The scanner's own memory is fixed ([`crate::json::stream`]), containers that cannot
//! hold a record or a field (deeper than [`RECORD_DEPTH`] or [`FIELD_DEPTH`] steps) are skipped
//! whole, and one record's values are held at a time, in buffers reused from record to record.
//! What is kept is at most `LINK_LIMIT` records' values: under 400 KiB if every value were at the
//! limit, some 30 KiB for real SQS contexts, whatever the size of the event.
//!
//! Plugging in. The event reaches the runtime as the body of its `/next` response, relayed through
//! a [`crate::capture::Tap`]: feed the scanner each chunk the tap observes and finish it when the
//! body ends. [`RecordScan::records`] is the batch's size (`messaging.batch.message_count`) when
//! the body was relayed whole and [`RecordScan::complete`]; the contexts become the invocation's
//! links; [`RecordScan::dropped`] is its dropped link count. A body buffered whole (for a
//! transform) is read by [`RecordScanner::scan`], as is a captured head
//! ([`super::ParsedBody::record_contexts`]).
//!
//! [`EventSource::is_record`]: super::EventSource::is_record
//! [`EventSource::record_field`]: super::EventSource::record_field

use super::context::{Carrier, RecordContext, RecordField, W3cField};
use super::Source;
use crate::json::stream::{Outcome, Scanner, ValueKind, Visitor, TEXT_LIMIT};
use crate::json::PathStep;

/// The most records whose contexts are kept.
pub const LINK_LIMIT: usize = 128;

/// Records lie at most this many steps below the root (`records.<topic-partition>[i]`).
const RECORD_DEPTH: usize = 3;

/// A record's fields lie at most this many steps below it (`headers[j].traceparent[k]`, one byte
/// of a Kafka header).
const FIELD_DEPTH: usize = 4;

/// What a scan found in an event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordScan {
    /// The contexts of the first [`LINK_LIMIT`] records that carry one, in batch order; a record
    /// with both an X-Ray header and a W3C context gives both, X-Ray first.
    pub contexts: Vec<RecordContext>,
    /// The records seen.
    pub records: usize,
    /// Records that carry a context but came after the first [`LINK_LIMIT`] that did.
    pub dropped: usize,
    /// Where the first record that says so was sent (an ARN).
    pub destination: Option<String>,
    /// Whether the bytes fed were one complete JSON document: only then is `records` the
    /// event's whole batch.
    pub complete: bool,
}

/// Reads an event's records as its bytes go past.
#[derive(Debug, Default)]
pub struct RecordScanner {
    scanner: Scanner,
    collector: Collector,
}

impl RecordScanner {
    /// A scanner at the start of an event, that reads the records of any source.
    pub fn new() -> Self {
        Self::default()
    }

    /// A scanner at the start of an event of `source`: it reads only that source's records, so each
    /// value costs one source's rules, not every source's (a 10,000-record SQS batch has about
    /// 200,000 values).
    pub fn for_source(source: Source) -> Self {
        let mut scanner = Self::default();
        scanner.collector.allowed = Source::DETECTION_ORDER
            .iter()
            .position(|candidate| *candidate == source)
            .map_or(0, |at| 1 << at);
        scanner
    }

    /// The scan of a body held whole.
    pub fn scan(body: &[u8]) -> RecordScan {
        let mut scanner = Self::new();
        scanner.feed(body);
        scanner.finish()
    }

    /// Reads the event's next bytes.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.scanner.feed(chunk, &mut self.collector);
    }

    /// What the bytes fed held. A record the bytes ended inside (a cut or malformed body) gives
    /// what was read of it.
    pub fn finish(mut self) -> RecordScan {
        self.collector.end_record();
        let collector = self.collector;
        RecordScan {
            contexts: collector.contexts,
            records: collector.records,
            dropped: collector.dropped,
            destination: collector.destination,
            complete: self.scanner.outcome() == Outcome::Complete,
        }
    }
}

/// Which value of a record a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    MessageId,
    Destination,
    XRay,
    TraceParent,
    TraceState,
}

impl Target {
    const COUNT: usize = 5;

    fn w3c(field: W3cField) -> Self {
        match field {
            W3cField::TraceParent => Self::TraceParent,
            W3cField::TraceState => Self::TraceState,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    #[default]
    Empty,
    /// Receiving a Kafka header's bytes.
    Filling,
    /// Holds a value (valid UTF-8).
    Set,
    /// Had a value that cannot be used (too long, not text); a later copy does not count either.
    Broken,
}

/// One value of the current record, in a buffer kept from record to record.
#[derive(Debug, Default)]
struct Slot {
    value: Vec<u8>,
    state: SlotState,
}

impl Slot {
    fn text(&self) -> Option<String> {
        (self.state == SlotState::Set).then(|| String::from_utf8_lossy(&self.value).into_owned())
    }

    fn set(&mut self, text: Option<&str>) {
        match text {
            Some(text) => {
                self.value.extend_from_slice(text.as_bytes());
                self.state = SlotState::Set;
            }
            None => self.state = SlotState::Broken,
        }
    }
}

/// The record being read.
#[derive(Debug, Clone, Copy)]
struct OpenRecord {
    index: usize,
    /// Its path's length.
    depth: usize,
    /// The sources whose record it is, as bits over [`Source::DETECTION_ORDER`].
    sources: u16,
}

/// A Kafka header's byte array being read.
#[derive(Debug, Clone, Copy)]
struct ByteArray {
    target: Target,
    /// The array's path length.
    depth: usize,
}

/// What the next text is for.
#[derive(Debug, Clone, Copy)]
enum Pending {
    Text(Target),
    Byte(Target),
}

/// The scanner's visitor: counts records, fills one record's slots, keeps the contexts.
#[derive(Debug)]
struct Collector {
    records: usize,
    open: Option<OpenRecord>,
    slots: [Slot; Target::COUNT],
    bytes: Option<ByteArray>,
    pending: Option<Pending>,
    contexts: Vec<RecordContext>,
    /// Records whose contexts were kept.
    linked: usize,
    dropped: usize,
    destination: Option<String>,
    /// The sources whose records are read, as bits over [`Source::DETECTION_ORDER`].
    allowed: u16,
}

impl Default for Collector {
    fn default() -> Self {
        Self {
            records: 0,
            open: None,
            slots: Default::default(),
            bytes: None,
            pending: None,
            contexts: Vec::new(),
            linked: 0,
            dropped: 0,
            destination: None,
            allowed: u16::MAX,
        }
    }
}

impl Collector {
    fn slot(&mut self, target: Target) -> &mut Slot {
        &mut self.slots[target as usize]
    }

    /// A value outside every record: a record starts, or a container that may hold records.
    fn outside_records(&mut self, path: &[PathStep<'_>], kind: ValueKind) -> bool {
        let sources = Source::DETECTION_ORDER
            .iter()
            .enumerate()
            .filter(|(at, source)| {
                self.allowed & (1 << at) != 0 && source.behaviour().is_record(path)
            })
            .fold(0u16, |bits, (at, _)| bits | (1 << at));
        if sources == 0 {
            return is_container(kind) && path.len() < RECORD_DEPTH;
        }
        self.records += 1;
        if kind != ValueKind::Object {
            return false;
        }
        self.open = Some(OpenRecord {
            index: self.records - 1,
            depth: path.len(),
            sources,
        });
        true
    }

    /// A value inside the open record, `relative` to it.
    fn in_record(&mut self, open: OpenRecord, relative: &[PathStep<'_>], kind: ValueKind) -> bool {
        let field = Source::DETECTION_ORDER
            .iter()
            .enumerate()
            .filter(|(at, _)| (open.sources & (1 << at)) != 0)
            .find_map(|(_, source)| source.behaviour().record_field(relative));
        let Some(field) = field else {
            return is_container(kind) && relative.len() < FIELD_DEPTH;
        };
        let (target, expected) = match field {
            RecordField::MessageId => (Target::MessageId, ValueKind::String),
            RecordField::Destination => (Target::Destination, ValueKind::String),
            RecordField::XRay => (Target::XRay, ValueKind::String),
            RecordField::W3c(field) => (Target::w3c(field), ValueKind::String),
            RecordField::W3cBytes(field) => (Target::w3c(field), ValueKind::Array),
        };
        let slot = self.slot(target);
        if kind != expected || slot.state != SlotState::Empty {
            return false;
        }
        if kind == ValueKind::Array {
            slot.state = SlotState::Filling;
            self.bytes = Some(ByteArray {
                target,
                depth: open.depth + relative.len(),
            });
        } else {
            self.pending = Some(Pending::Text(target));
        }
        true
    }

    /// The open record ended (or the body did): its context is kept or counted.
    fn end_record(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        self.bytes = None;
        self.pending = None;
        if self.destination.is_none() {
            self.destination = self.slot(Target::Destination).text();
        }
        let has_context = [Target::XRay, Target::TraceParent]
            .iter()
            .any(|&target| self.slot(target).state == SlotState::Set);
        if has_context && self.linked == LINK_LIMIT {
            self.dropped += 1;
        } else if has_context {
            self.linked += 1;
            let message_id = self.slot(Target::MessageId).text();
            let xray = self.slot(Target::XRay).text().map(Carrier::XRay);
            let w3c = self.slot(Target::TraceParent).text().map(|traceparent| {
                let tracestate = self.slot(Target::TraceState).text();
                Carrier::W3c {
                    traceparent,
                    tracestate,
                }
            });
            self.contexts
                .extend(xray.into_iter().chain(w3c).map(|carrier| RecordContext {
                    record: open.index,
                    message_id: message_id.clone(),
                    carrier,
                }));
        }
        for slot in &mut self.slots {
            slot.value.clear();
            slot.state = SlotState::Empty;
        }
    }
}

impl Visitor for Collector {
    fn value(&mut self, path: &[PathStep<'_>], kind: ValueKind) -> bool {
        let Some(open) = self.open else {
            return self.outside_records(path, kind);
        };
        if let Some(bytes) = self.bytes.filter(|bytes| path.len() == bytes.depth + 1) {
            let slot = self.slot(bytes.target);
            if kind != ValueKind::Scalar {
                slot.state = SlotState::Broken;
            }
            let filling = slot.state == SlotState::Filling;
            if filling {
                self.pending = Some(Pending::Byte(bytes.target));
            }
            return filling;
        }
        self.in_record(open, &path[open.depth..], kind)
    }

    fn text(&mut self, text: Option<&str>) {
        match self.pending.take() {
            Some(Pending::Text(target)) => self.slot(target).set(text),
            Some(Pending::Byte(target)) => {
                let slot = self.slot(target);
                match text.and_then(|text| text.parse::<u8>().ok()) {
                    Some(byte) if slot.value.len() < TEXT_LIMIT => slot.value.push(byte),
                    _ => slot.state = SlotState::Broken,
                }
            }
            None => {}
        }
    }

    fn close(&mut self, depth: usize) {
        if let Some(bytes) = self.bytes.filter(|bytes| bytes.depth == depth) {
            self.bytes = None;
            let slot = self.slot(bytes.target);
            if slot.state == SlotState::Filling {
                slot.state = match std::str::from_utf8(&slot.value) {
                    Ok(_) => SlotState::Set,
                    Err(_) => SlotState::Broken,
                };
            }
        }
        if self.open.is_some_and(|open| open.depth == depth) {
            self.end_record();
        }
    }
}

fn is_container(kind: ValueKind) -> bool {
    matches!(kind, ValueKind::Object | ValueKind::Array)
}

#[cfg(test)]
mod tests {
    use lambda_lens_test_support::events;

    use super::*;

    const XRAY: [&str; 3] = [
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "Root=1-6759e988-bd862e3fe1be46a994272794;Parent=63995c3f42cd8ad9;Sampled=0",
        "Root=1-7759e988-bd862e3fe1be46a994272795;Parent=73995c3f42cd8ada;Sampled=1",
    ];
    const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const QUEUE: &str = "arn:aws:sqs:us-east-2:123456789012:my-queue";

    /// An SQS record from [`QUEUE`] (see the test support's `events::sqs_record`).
    fn sqs_record(id: &str, body: &str, xray: Option<&str>, traceparent: Option<&str>) -> String {
        events::sqs_record(QUEUE, id, body, xray, traceparent)
    }

    fn xray(record: usize, id: &str, header: &str) -> RecordContext {
        RecordContext {
            record,
            message_id: Some(id.into()),
            carrier: Carrier::XRay(header.into()),
        }
    }

    fn w3c(record: usize, id: Option<&str>, tracestate: Option<&str>) -> RecordContext {
        RecordContext {
            record,
            message_id: id.map(Into::into),
            carrier: Carrier::W3c {
                traceparent: TRACEPARENT.into(),
                tracestate: tracestate.map(Into::into),
            },
        }
    }

    /// The scan of `body` fed in chunks of `size` bytes.
    fn scan_in_chunks(body: &[u8], size: usize) -> RecordScan {
        let mut scanner = RecordScanner::new();
        for chunk in body.chunks(size) {
            scanner.feed(chunk);
        }
        scanner.finish()
    }

    fn kafka_bytes(text: &str) -> String {
        let list: Vec<String> = text.bytes().map(|b| b.to_string()).collect();
        format!("[{}]", list.join(","))
    }

    #[test]
    fn three_sqs_records_with_their_own_headers_and_one_traceparent() {
        let body = events::sqs_event(&[
            sqs_record("id-0", "a", Some(XRAY[0]), None),
            sqs_record("id-1", "b", Some(XRAY[1]), Some(TRACEPARENT)),
            sqs_record("id-2", "c", Some(XRAY[2]), None),
        ]);
        let scan = RecordScanner::scan(&body);
        assert_eq!(
            scan,
            RecordScan {
                contexts: vec![
                    xray(0, "id-0", XRAY[0]),
                    xray(1, "id-1", XRAY[1]),
                    w3c(1, Some("id-1"), None),
                    xray(2, "id-2", XRAY[2]),
                ],
                records: 3,
                dropped: 0,
                destination: Some(QUEUE.into()),
                complete: true,
            }
        );
    }

    #[test]
    fn every_split_point_gives_the_same_scan() {
        let kafka = format!(
            r#"{{"eventSource":"aws:kafka","records":{{"t-0":[{{"topic":"t","headers":[{{"TraceParent":{}}},{{"tracestate":{}}}]}}]}}}}"#,
            kafka_bytes(TRACEPARENT),
            kafka_bytes("k=v"),
        );
        let sqs = events::sqs_event(&[
            sqs_record("id-0", r#"{\"a\":\"\\u00e9]}\"}"#, Some(XRAY[0]), None),
            sqs_record("id-1", "b", None, Some(TRACEPARENT)),
        ]);
        let fixtures: [&[u8]; 8] = [
            &sqs,
            kafka.as_bytes(),
            include_bytes!("../../tests/fixtures/events/sqs.json"),
            include_bytes!("../../tests/fixtures/events/sns.json"),
            include_bytes!("../../tests/fixtures/events/kinesis.json"),
            include_bytes!("../../tests/fixtures/events/dynamodb.json"),
            include_bytes!("../../tests/fixtures/events/s3.json"),
            include_bytes!("../../tests/fixtures/events/apigw-rest.json"),
        ];
        for body in fixtures {
            let whole = RecordScanner::scan(body);
            assert!(whole.complete);
            for split in 0..=body.len() {
                let mut scanner = RecordScanner::new();
                scanner.feed(&body[..split]);
                scanner.feed(&body[split..]);
                assert_eq!(scanner.finish(), whole, "split at {split}");
            }
            assert_eq!(scan_in_chunks(body, 1), whole);
        }
        assert_eq!(RecordScanner::scan(&sqs).contexts.len(), 2);
        assert_eq!(
            RecordScanner::scan(kafka.as_bytes()).contexts,
            [w3c(0, None, Some("k=v"))]
        );
    }

    #[test]
    fn fixtures_are_counted_and_their_destinations_found() {
        let scan = |body: &[u8]| {
            let scan = RecordScanner::scan(body);
            (scan.records, scan.destination, scan.contexts.len())
        };
        let some = |arn: &str| Some(arn.to_owned());
        assert_eq!(
            scan(include_bytes!("../../tests/fixtures/events/sqs.json")),
            (2, some(QUEUE), 0)
        );
        assert_eq!(
            scan(include_bytes!("../../tests/fixtures/events/sns.json")),
            (1, some("arn:aws:sns:us-east-1:123456789012:sns-lambda"), 0)
        );
        assert_eq!(
            scan(include_bytes!("../../tests/fixtures/events/kinesis.json")),
            (
                1,
                some("arn:aws:kinesis:us-east-1:123456789012:stream/lambda-stream"),
                0
            )
        );
        assert_eq!(
            scan(include_bytes!(
                "../../tests/fixtures/events/eventbridge.json"
            )),
            (0, None, 0)
        );
    }

    #[test]
    fn escapes_in_keys_and_values_are_decoded() {
        let body = br#"{"Records":[{"message\u0049d":"id\/0","attributes":{"AWSTrace\u0048eader":"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},"messageAttributes":{"TRACE\u0050ARENT":{"stringValue":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},"tracestate":{"stringValue":"k=\"v\""}}}]}"#;
        let scan = RecordScanner::scan(body);
        assert_eq!(
            scan.contexts,
            [
                xray(0, "id/0", XRAY[0]),
                RecordContext {
                    carrier: Carrier::W3c {
                        traceparent: TRACEPARENT.into(),
                        tracestate: Some(r#"k="v""#.into()),
                    },
                    ..w3c(0, Some("id/0"), None)
                },
            ]
        );
    }

    #[test]
    fn contexts_at_the_end_of_a_six_megabyte_sqs_batch() {
        let body_text = "x".repeat(280);
        let mut records: Vec<String> = (0..9_997)
            .map(|i| sqs_record(&format!("id-{i}"), &body_text, None, None))
            .collect();
        records.push(sqs_record("id-9997", "a", Some(XRAY[0]), None));
        records.push(sqs_record("id-9998", "b", None, Some(TRACEPARENT)));
        records.push(sqs_record("id-9999", "c", Some(XRAY[2]), Some(TRACEPARENT)));
        let body = events::sqs_event(&records);
        assert!(body.len() > 6_000_000, "{}", body.len());
        // Odd chunk sizes cut every kind of token somewhere.
        for size in [65_536, 8_191] {
            let scan = scan_in_chunks(&body, size);
            assert_eq!(
                scan.contexts,
                [
                    xray(9_997, "id-9997", XRAY[0]),
                    w3c(9_998, Some("id-9998"), None),
                    xray(9_999, "id-9999", XRAY[2]),
                    w3c(9_999, Some("id-9999"), None),
                ]
            );
            assert_eq!(
                (scan.records, scan.dropped, scan.complete),
                (10_000, 0, true)
            );
        }
    }

    #[test]
    fn a_six_megabyte_kinesis_batch_is_counted_to_its_end() {
        let data = "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==".repeat(2_000);
        let stream = "arn:aws:kinesis:us-east-1:123456789012:stream/lambda-stream";
        let records: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    r#"{{"kinesis":{{"kinesisSchemaVersion":"1.0","partitionKey":"1","sequenceNumber":"{i}","data":"{data}","approximateArrivalTimestamp":1607497475.000}},"eventSource":"aws:kinesis","eventID":"shardId-000000000006:{i}","eventSourceARN":"{stream}"}}"#
                )
            })
            .collect();
        let body = events::sqs_event(&records);
        assert!(body.len() > 6_000_000, "{}", body.len());
        let scan = scan_in_chunks(&body, 65_536);
        assert_eq!(scan.records, 100);
        assert_eq!(scan.destination.as_deref(), Some(stream));
        assert!(scan.contexts.is_empty() && scan.complete);
    }

    #[test]
    fn contexts_past_the_link_limit_are_counted_not_kept() {
        let records: Vec<String> = (0..LINK_LIMIT + 72)
            .map(|i| sqs_record(&format!("id-{i}"), "m", Some(XRAY[i % 3]), None))
            .collect();
        let scan = RecordScanner::scan(&events::sqs_event(&records));
        assert_eq!(scan.contexts.len(), LINK_LIMIT);
        assert_eq!(
            scan.contexts.last(),
            Some(&xray(LINK_LIMIT - 1, "id-127", XRAY[(LINK_LIMIT - 1) % 3]))
        );
        assert_eq!((scan.records, scan.dropped), (LINK_LIMIT + 72, 72));
    }

    #[test]
    fn malformed_or_cut_bodies_keep_what_was_read() {
        let good = sqs_record("id-0", "a", Some(XRAY[0]), None);
        let malformed = format!(
            r#"{{"Records":[{good},{{"messageId":"id-1","attributes":{{"AWSTraceHeader":"{}"}} "x":1}},{good}]}}"#,
            XRAY[1]
        );
        let scan = RecordScanner::scan(malformed.as_bytes());
        assert_eq!(
            scan.contexts,
            [xray(0, "id-0", XRAY[0]), xray(1, "id-1", XRAY[1])]
        );
        assert_eq!((scan.records, scan.complete), (2, false));

        let whole =
            events::sqs_event(&[good.clone(), sqs_record("id-1", "b", Some(XRAY[1]), None)]);
        let cut = &whole[..whole.len() - 150];
        let scan = RecordScanner::scan(cut);
        assert_eq!(
            scan.contexts,
            [xray(0, "id-0", XRAY[0]), xray(1, "id-1", XRAY[1])]
        );
        assert!(!scan.complete);
        assert_eq!(RecordScanner::scan(b"not json"), RecordScan::default());
    }

    #[test]
    fn deep_nesting_inside_a_record_is_skipped_without_growing() {
        let depth = 200_000;
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let body = format!(
            r#"{{"Records":[{{"messageAttributes":{{"deep":{{"stringValue":{nested}}},"traceparent":{{"stringValue":"{TRACEPARENT}"}}}},"messageId":"id-0"}}]}}"#
        );
        let scan = RecordScanner::scan(body.as_bytes());
        assert_eq!(scan.contexts, [w3c(0, Some("id-0"), None)]);
        assert!(scan.complete);
    }

    #[test]
    fn values_of_the_wrong_type_or_size_read_as_absent() {
        let long = "a".repeat(TEXT_LIMIT + 1);
        let body = format!(
            r#"{{"Records":[
                {{"messageId":7,"attributes":{{"AWSTraceHeader":{{"x":1}}}},"messageAttributes":{{"traceparent":{{"stringValue":"{TRACEPARENT}"}},"tracestate":{{"stringValue":"{long}"}}}}}},
                {{"messageId":"id-1","attributes":{{"AWSTraceHeader":"{long}"}}}}
            ]}}"#
        );
        let scan = RecordScanner::scan(body.as_bytes());
        assert_eq!(scan.contexts, [w3c(0, None, None)]);
        assert_eq!((scan.records, scan.dropped), (2, 0));

        let kafka = format!(
            r#"{{"records":{{"t-0":[
                {{"headers":[{{"traceparent":[256]}}]}},
                {{"headers":[{{"traceparent":["0"]}}]}},
                {{"headers":[{{"traceparent":[255]}}]}},
                {{"headers":[{{"traceparent":{}}},{{"traceparent":[1]}}]}}
            ]}}}}"#,
            kafka_bytes(TRACEPARENT)
        );
        let scan = RecordScanner::scan(kafka.as_bytes());
        assert_eq!(
            scan.contexts,
            [w3c(3, None, None)],
            "not UTF-8, the first header counts"
        );
        assert_eq!(scan.records, 4);
    }
}
