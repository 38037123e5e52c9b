//! Event sources as a family: which AWS service's event started an invocation, and what that event
//! tells — the OpenTelemetry `faas.trigger`, semantic-convention attributes, the trace contexts its
//! records carry (for span links) and its HTTP headers (for context extraction and injection).
//!
//! Each source is one module behind one small trait, [`EventSource`]; [`Source`] names them and
//! fixes the order detection asks them in ([`detect`]). A captured body is parsed once per
//! invocation into a [`ParsedBody`], which span building hands to trigger inference, the attributes
//! and redaction. The records of a batch are read from the whole event as it streams past, in
//! bounded memory, by a [`RecordScanner`] (whose module has the table of what it finds), which a
//! [`BatchWatch`] runs on a relayed event only when its head shows a batch source.
//!
//! | Module | Events | Recognised by | `faas.trigger` | Attributes |
//! |---|---|---|---|---|
//! | `http` | API Gateway REST (v1 payload), Lambda REQUEST authorizer, HTTP API (v2 payload), function URL, Application Load Balancer | `requestContext.http` / `requestContext.elb`, `httpMethod` + `requestContext` or `resource`, `rawPath` + `routeKey`/`rawQueryString` | `http` | `http.request.method` (`_OTHER` + `http.request.method_original`), `http.route`, `url.path`, `url.query` (both redacted), `url.scheme`, `user_agent.original`, `client.address`, `server.address`, `server.port`, `network.protocol.version`; span name `{method} {route}` |
//! | `sqs` | SQS | `Records[].eventSource` `aws:sqs`; cut head: `Records` + `receiptHandle` | `pubsub` | `messaging.system`=`aws_sqs`, `messaging.destination.name` (queue), `messaging.operation.type`=`process`, `messaging.batch.message_count` |
//! | `sns` | SNS | `Records[].EventSource` `aws:sns`; cut head: `Records` + `Sns` | `pubsub` | `messaging.system`=`aws.sns`, `messaging.destination.name` (topic), `aws.sns.topic.arn`, `messaging.message.id`, `messaging.operation.type`=`process` |
//! | `kinesis` | Kinesis Data Streams | `Records[].eventSource` `aws:kinesis`; cut head: `Records` + `kinesis` | `pubsub` | `messaging.system`=`aws.kinesis`, `messaging.destination.name` and `aws.kinesis.stream_name`, `messaging.operation.type`=`process`, `messaging.batch.message_count` |
//! | `dynamodb` | DynamoDB Streams | `Records[].eventSource` `aws:dynamodb`; cut head: `Records` + `dynamodb` | `datasource` | `aws.dynamodb.table_names`, `faas.document.collection` (table), `faas.document.operation`, `faas.document.time`, `lambda_lens.event.record_count` |
//! | `s3` | S3 event notifications | `Records[].eventSource` `aws:s3`; cut head: `Records` + `s3` | `datasource` | `aws.s3.bucket`, `aws.s3.key`, `faas.document.collection` (bucket), `faas.document.name` (key), `faas.document.operation`, `faas.document.time`, `lambda_lens.event.record_count` |
//! | `kafka` | Amazon MSK, self-managed Kafka | `eventSource` `aws:kafka` / `SelfManagedKafka` | `pubsub` | |
//! | `mq` | Amazon MQ (ActiveMQ, RabbitMQ) | `eventSource` `aws:mq` / `aws:rmq` | `pubsub` | |
//! | `documentdb` | DocumentDB change streams | `eventSource` `aws:docdb` | `datasource` | |
//! | `scheduled` | EventBridge schedule rule, EventBridge Scheduler | `detail-type` `Scheduled Event` + `source` `aws.events` / `aws.scheduler` | `timer` | `faas.time` |
//! | `eventbridge` | EventBridge (other than schedules) | `detail-type` + `source` | `pubsub` | `messaging.system`=`aws.eventbridge`, `messaging.message.id`, `messaging.operation.type`=`process` |
//! | `other` | anything else: direct invoke, async destination records, WebSocket APIs, non-JSON, empty | | `other` | |
//!
//! An `eventSource` names its source wherever it appears, in a record or at the top level, and
//! names come first; shapes are asked in the table's order. Records (for span links): SQS, SNS,
//! Kinesis, DynamoDB Streams, S3 and Kafka say where their records are and which values in them
//! are message ids, destinations and trace contexts ([`EventSource::record_field`]). Headers: HTTP
//! events. The carrier a parent is read from ([`EventCarrier`]): an HTTP event's headers, or the
//! context of an event's single message.
//!
//! Attribute names and values are those of the OpenTelemetry semantic conventions registry
//! (`open-telemetry/semantic-conventions`, `docs/registry/attributes/{http,url,client,server,
//! network,user-agent,messaging,aws,faas}.md`). The `faas.document.*` attributes describe a
//! data-source batch by its first record (one span per invocation). `messaging.system` has registered values only for SQS
//! (`aws_sqs`) and SNS (`aws.sns`); the registry allows custom values otherwise, hence
//! `aws.kinesis` and `aws.eventbridge` in the style of `aws.sns`. No convention counts the records
//! of a data-source event, hence the `lambda_lens.` name. Counts are only set when the whole event
//! was captured; a cut head is read up to its last complete value, so only fields that are certain
//! are reported, and nothing here panics on odd input.

mod attributes;
mod body;
mod context;
mod detect;
mod documentdb;
mod dynamodb;
mod eventbridge;
mod fields;
mod http;
mod kafka;
mod kinesis;
mod mq;
mod other;
mod propagation;
mod records;
mod s3;
mod scheduled;
mod sniff;
mod sns;
mod sqs;
mod stream;
mod trigger;
mod watch;

use serde_json::Value;

pub use self::attributes::{AttrValue, EventAttributes};
pub use self::body::{BodyParse, ParsedBody};
pub use self::context::{Carrier, RecordContext, RecordField, W3cField};
pub use self::detect::detect;
pub use self::fields::destination_name;
pub use self::http::{response_status, Headers};
pub use self::propagation::EventCarrier;
pub use self::sniff::HeadSniff;
pub use self::stream::{RecordScan, RecordScanner, LINK_LIMIT};
pub use self::trigger::Trigger;
pub use self::watch::BatchWatch;
use crate::json::PathStep;
use crate::redact::RedactionRules;

/// One event source: how its events are recognised and what they tell. Everything but the trigger
/// has a default for sources that have nothing to say.
pub trait EventSource: Sync {
    /// `faas.trigger` for this source's events.
    fn trigger(&self) -> Trigger;

    /// The `eventSource` values that name this source (in a record or at the top level).
    fn names(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether a whole, parsed event that names no source has this source's shape.
    fn detect(&self, _event: &Value) -> bool {
        false
    }

    /// Whether a head that does not parse whole (cut by the capture) has this source's byte
    /// patterns, when it names no source.
    fn detect_head(&self, _head: &HeadSniff<'_>) -> bool {
        false
    }

    /// Adds what this source's events tell about the invocation to `out`; `rules` decide what
    /// loses its value (URL query parameters).
    fn attributes(
        &self,
        _event: &ParsedBody<'_>,
        _rules: &RedactionRules,
        _out: &mut EventAttributes,
    ) {
    }

    /// Whether the value at `path` (from the event's root) is one of this source's records.
    fn is_record(&self, _path: &[PathStep<'_>]) -> bool {
        false
    }

    /// What the value at `path` (from one of this source's records) holds for the record's span
    /// link, if anything.
    fn record_field(&self, _path: &[PathStep<'_>]) -> Option<RecordField> {
        None
    }

    /// How many records (messages) the event holds: the length of its `Records` array, for the
    /// sources that list them there.
    fn record_count(&self, event: &Value) -> usize {
        records::records(event).len()
    }

    /// The event's HTTP headers; `None` when the event is not an HTTP request.
    fn headers<'a>(&self, _event: &'a Value) -> Option<Headers<'a>> {
        None
    }
}

/// The event sources the family knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Amazon SQS.
    Sqs,
    /// Amazon SNS.
    Sns,
    /// Amazon Kinesis Data Streams.
    Kinesis,
    /// Amazon DynamoDB Streams.
    DynamoDb,
    /// Amazon S3 event notifications.
    S3,
    /// Apache Kafka (Amazon MSK and self-managed).
    Kafka,
    /// Amazon MQ.
    Mq,
    /// Amazon DocumentDB change streams.
    DocumentDb,
    /// API Gateway, function URLs and ALB.
    Http,
    /// EventBridge schedules and EventBridge Scheduler.
    Scheduled,
    /// Amazon EventBridge.
    EventBridge,
    /// Anything else.
    Other,
}

impl Source {
    /// Every source but [`Source::Other`], in the order their shapes are asked. The record sources
    /// come first (their keys are the surest sign in a cut head), EventBridge last (after
    /// schedules, which share its envelope).
    pub const DETECTION_ORDER: [Source; 11] = [
        Source::Sqs,
        Source::Sns,
        Source::Kinesis,
        Source::DynamoDb,
        Source::S3,
        Source::Kafka,
        Source::Mq,
        Source::DocumentDb,
        Source::Http,
        Source::Scheduled,
        Source::EventBridge,
    ];

    /// Whether the source's events are batches of messages a function processes, for which the
    /// invocation span is a messaging CONSUMER span linked to each message's producer: SQS, SNS,
    /// Kinesis, DynamoDB Streams and Kafka. (EventBridge hands over no record context; S3 events
    /// are notifications about objects, not messages.)
    pub fn is_batch(self) -> bool {
        matches!(
            self,
            Source::Sqs | Source::Sns | Source::Kinesis | Source::DynamoDb | Source::Kafka
        )
    }

    /// The source's implementation.
    pub fn behaviour(self) -> &'static dyn EventSource {
        match self {
            Source::Sqs => &sqs::Sqs,
            Source::Sns => &sns::Sns,
            Source::Kinesis => &kinesis::Kinesis,
            Source::DynamoDb => &dynamodb::DynamoDb,
            Source::S3 => &s3::S3,
            Source::Kafka => &kafka::Kafka,
            Source::Mq => &mq::Mq,
            Source::DocumentDb => &documentdb::DocumentDb,
            Source::Http => &http::Http,
            Source::Scheduled => &scheduled::Scheduled,
            Source::EventBridge => &eventbridge::EventBridge,
            Source::Other => &other::Other,
        }
    }

    /// The source an `eventSource` value names (raw bytes: the names are plain ASCII).
    fn named(name: &[u8]) -> Option<Source> {
        Source::DETECTION_ORDER.into_iter().find(|source| {
            source
                .behaviour()
                .names()
                .iter()
                .any(|known| known.as_bytes() == name)
        })
    }
}
