//! `faas.trigger` inference: which kind of event started an invocation, judged from the first bytes
//! of the event payload that the proxy sees in the `/next` response.
//!
//! This module owns the mapping from AWS event shapes to the OpenTelemetry FaaS trigger values
//! (semantic-conventions `docs/faas/faas-spans.md`): `pubsub` when the function runs because messages
//! were sent to a messaging system, `datasource` when it responds to a data store's read/write,
//! `timer` for schedules, `http` for inbound HTTP requests.
//!
//! | Event | Recognised by | Trigger |
//! |---|---|---|
//! | API Gateway REST (v1 payload), Lambda REQUEST authorizer | `httpMethod` + `requestContext` or `resource` | `http` |
//! | API Gateway HTTP API (v2 payload), function URL | `requestContext.http`, or `rawPath` + `routeKey`/`rawQueryString` | `http` |
//! | Application Load Balancer | `requestContext.elb` | `http` |
//! | SQS, SNS, Kinesis | `Records[].eventSource` `aws:sqs` / `aws:kinesis`, `Records[].EventSource` `aws:sns` | `pubsub` |
//! | Amazon MSK, self-managed Kafka, Amazon MQ | top-level `eventSource` `aws:kafka` / `SelfManagedKafka` / `aws:mq` / `aws:rmq` | `pubsub` |
//! | EventBridge (other than schedules) | `detail-type` + `source` | `pubsub` |
//! | S3, DynamoDB Streams | `Records[].eventSource` `aws:s3` / `aws:dynamodb` | `datasource` |
//! | DocumentDB change streams | top-level `eventSource` `aws:docdb` | `datasource` |
//! | EventBridge schedule rule | `detail-type` `Scheduled Event` + `source` `aws.events` / `aws.scheduler` | `timer` |
//! | anything else (direct invoke, async destination records, WebSocket APIs, non-JSON, empty) | | `other` |
//!
//! EventBridge Scheduler sends that `aws.scheduler` envelope only when the schedule has no `Input`;
//! with an `Input`, the function receives it verbatim, indistinguishable from a direct invoke (`other`).
//!
//! A complete payload is parsed as JSON (only the probed fields are materialised; large `Records`
//! bodies are skipped). A truncated or unparsable head falls back to byte-pattern checks that tolerate
//! whitespace and pretty-printing, plus record keys that precede a late `eventSource` (`receiptHandle`
//! for SQS, `kinesis`, `dynamodb`), so a 200-byte head is usually enough.

use serde::Deserialize;
use serde_json::Value;

/// OpenTelemetry `faas.trigger` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// An inbound HTTP request (API Gateway, function URL, ALB).
    Http,
    /// Messages from a messaging system (SQS, SNS, Kinesis, Kafka, MQ, EventBridge).
    PubSub,
    /// A data store operation (S3, DynamoDB Streams, DocumentDB).
    Datasource,
    /// A schedule.
    Timer,
    /// Anything else, including direct invocations.
    Other,
}

impl Trigger {
    /// The attribute value: `http`, `pubsub`, `datasource`, `timer` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::PubSub => "pubsub",
            Self::Datasource => "datasource",
            Self::Timer => "timer",
            Self::Other => "other",
        }
    }
}

/// Infers the trigger from the first bytes of the event (possibly truncated: `complete == false`).
pub fn infer(event_head: &[u8], complete: bool) -> Trigger {
    if complete {
        match serde_json::from_slice::<Probe>(event_head) {
            Ok(probe) => return probe.trigger(),
            // Valid JSON, but not an object (or `Records` is not a list of objects): none of the
            // shapes above, and the byte patterns must not second-guess a successful parse.
            Err(error) if error.is_data() => return Trigger::Other,
            Err(_) => {}
        }
    }
    sniff(event_head)
}

/// The top-level fields that identify an event shape. Scalars are `Value`s so that a field of an
/// unexpected type in someone's own payload reads as "not this shape" instead of failing the parse.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "Records")]
    records: Option<Vec<RecordProbe>>,
    #[serde(rename = "eventSource")]
    event_source: Option<Value>,
    #[serde(rename = "httpMethod")]
    http_method: Option<Value>,
    resource: Option<Value>,
    #[serde(rename = "requestContext")]
    request_context: Option<Value>,
    #[serde(rename = "rawPath")]
    raw_path: Option<Value>,
    #[serde(rename = "routeKey")]
    route_key: Option<Value>,
    #[serde(rename = "rawQueryString")]
    raw_query_string: Option<Value>,
    #[serde(rename = "detail-type")]
    detail_type: Option<Value>,
    source: Option<Value>,
}

/// One element of `Records`; SNS spells the key `EventSource`.
#[derive(Deserialize)]
struct RecordProbe {
    #[serde(rename = "eventSource")]
    event_source: Option<Value>,
    #[serde(rename = "EventSource")]
    sns_event_source: Option<Value>,
}

impl Probe {
    fn trigger(&self) -> Trigger {
        let from_records = self.records.iter().flatten().find_map(|record| {
            text(&record.event_source)
                .or_else(|| text(&record.sns_event_source))
                .and_then(|source| from_event_source(source.as_bytes()))
        });
        if let Some(trigger) = from_records.or_else(|| {
            text(&self.event_source).and_then(|source| from_event_source(source.as_bytes()))
        }) {
            return trigger;
        }
        if self.is_http() {
            return Trigger::Http;
        }
        match (text(&self.detail_type), text(&self.source)) {
            (Some(detail_type), Some(source)) => {
                from_eventbridge(detail_type.as_bytes(), Some(source.as_bytes()))
            }
            _ => Trigger::Other,
        }
    }

    fn is_http(&self) -> bool {
        let context = self.request_context.as_ref().and_then(Value::as_object);
        let has_object = |key| {
            context
                .and_then(|c| c.get(key))
                .is_some_and(Value::is_object)
        };
        has_object("http")
            || has_object("elb")
            || (text(&self.http_method).is_some()
                && (context.is_some() || text(&self.resource).is_some()))
            || (text(&self.raw_path).is_some()
                && (text(&self.route_key).is_some() || text(&self.raw_query_string).is_some()))
    }
}

fn text(value: &Option<Value>) -> Option<&str> {
    value.as_ref().and_then(Value::as_str)
}

/// The trigger of an `eventSource` value, or `None` for sources this module does not know.
fn from_event_source(source: &[u8]) -> Option<Trigger> {
    match source {
        b"aws:sqs" | b"aws:sns" | b"aws:kinesis" | b"aws:kafka" | b"SelfManagedKafka"
        | b"aws:mq" | b"aws:rmq" => Some(Trigger::PubSub),
        b"aws:s3" | b"aws:dynamodb" | b"aws:docdb" => Some(Trigger::Datasource),
        _ => None,
    }
}

/// An EventBridge event; `source` is `None` when a truncated head ends before it.
fn from_eventbridge(detail_type: &[u8], source: Option<&[u8]>) -> Trigger {
    let scheduler_source = matches!(source, None | Some(b"aws.events" | b"aws.scheduler"));
    if detail_type == b"Scheduled Event" && scheduler_source {
        Trigger::Timer
    } else {
        Trigger::PubSub
    }
}

/// Byte-pattern inference for truncated or unparsable heads. Keys are matched with their quotes, so
/// the escaped copies inside string values (an SNS `Message`, an SQS `body`) never match.
fn sniff(head: &[u8]) -> Trigger {
    let source =
        string_value(head, b"\"eventSource\"").or_else(|| string_value(head, b"\"EventSource\""));
    if let Some(trigger) = source.and_then(from_event_source) {
        return trigger;
    }
    let has = |key: &[u8]| values_after_key(head, key).next().is_some();
    if has(b"\"Records\"") {
        // These record keys come before `eventSource`, which a short head may not reach.
        if has(b"\"receiptHandle\"") || has(b"\"Sns\"") || has(b"\"kinesis\"") {
            return Trigger::PubSub;
        }
        if has(b"\"dynamodb\"") || has(b"\"s3\"") {
            return Trigger::Datasource;
        }
    }
    let http = (has(b"\"httpMethod\"") && (has(b"\"requestContext\"") || has(b"\"resource\"")))
        || (has(b"\"requestContext\"") && (has(b"\"elb\"") || has(b"\"http\"")))
        || (has(b"\"rawPath\"") && (has(b"\"routeKey\"") || has(b"\"rawQueryString\"")));
    if http {
        return Trigger::Http;
    }
    match string_value(head, b"\"detail-type\"") {
        Some(detail_type) => from_eventbridge(detail_type, string_value(head, b"\"source\"")),
        None => Trigger::Other,
    }
}

/// For every occurrence of `quoted_key` followed by optional whitespace and `:`, the bytes after the
/// colon and any whitespace.
fn values_after_key<'a>(head: &'a [u8], quoted_key: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = head;
    std::iter::from_fn(move || loop {
        // memmem, not a window-by-window compare: a 4 KiB head is searched for some twenty keys.
        let at = memchr::memmem::find(rest, quoted_key)?;
        rest = &rest[at + quoted_key.len()..];
        if let Some(after_colon) = trim_start(rest).strip_prefix(b":") {
            return Some(trim_start(after_colon));
        }
    })
}

/// The first complete string value of `quoted_key` (raw bytes, escapes not decoded: the values
/// compared against are plain ASCII).
fn string_value<'a>(head: &'a [u8], quoted_key: &'a [u8]) -> Option<&'a [u8]> {
    values_after_key(head, quoted_key).find_map(|value| {
        let body = value.strip_prefix(b"\"")?;
        let mut escaped = false;
        let end = body.iter().position(|&b| {
            let closes = b == b'"' && !escaped;
            escaped = b == b'\\' && !escaped;
            closes
        })?;
        Some(&body[..end])
    })
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The golden fixtures (transcribed from the AWS documentation samples) and their triggers.
    const FIXTURES: [(&str, &[u8], Trigger); 11] = [
        (
            "apigw-rest",
            include_bytes!("../tests/fixtures/events/apigw-rest.json"),
            Trigger::Http,
        ),
        (
            "apigw-http-v2",
            include_bytes!("../tests/fixtures/events/apigw-http-v2.json"),
            Trigger::Http,
        ),
        (
            "function-url",
            include_bytes!("../tests/fixtures/events/function-url.json"),
            Trigger::Http,
        ),
        (
            "alb",
            include_bytes!("../tests/fixtures/events/alb.json"),
            Trigger::Http,
        ),
        (
            "sqs",
            include_bytes!("../tests/fixtures/events/sqs.json"),
            Trigger::PubSub,
        ),
        (
            "sns",
            include_bytes!("../tests/fixtures/events/sns.json"),
            Trigger::PubSub,
        ),
        (
            "s3",
            include_bytes!("../tests/fixtures/events/s3.json"),
            Trigger::Datasource,
        ),
        (
            "eventbridge",
            include_bytes!("../tests/fixtures/events/eventbridge.json"),
            Trigger::PubSub,
        ),
        (
            "scheduled",
            include_bytes!("../tests/fixtures/events/scheduled.json"),
            Trigger::Timer,
        ),
        (
            "kinesis",
            include_bytes!("../tests/fixtures/events/kinesis.json"),
            Trigger::PubSub,
        ),
        (
            "dynamodb",
            include_bytes!("../tests/fixtures/events/dynamodb.json"),
            Trigger::Datasource,
        ),
    ];

    #[test]
    fn fixtures_parse_as_json() {
        for (name, bytes, _) in FIXTURES {
            assert!(serde_json::from_slice::<Value>(bytes).is_ok(), "{name}");
        }
    }

    #[test]
    fn complete_fixtures() {
        for (name, bytes, expected) in FIXTURES {
            assert_eq!(infer(bytes, true), expected, "{name}");
        }
    }

    #[test]
    fn truncated_fixtures() {
        for (name, bytes, expected) in FIXTURES {
            assert!(bytes.len() > 200, "{name} is too short to truncate");
            assert_eq!(infer(&bytes[..200], false), expected, "{name}");
        }
    }

    #[test]
    fn compact_fixtures() {
        // The runtime API delivers whatever the caller serialised; most services send compact JSON.
        for (name, bytes, expected) in FIXTURES {
            let compact = minify(bytes);
            assert_eq!(infer(&compact, true), expected, "{name}");
            let head = &compact[..compact.len().min(200)];
            assert_eq!(infer(head, false), expected, "{name} compact head");
        }
    }

    /// Drops the whitespace between tokens, keeping the key order (a `Value` round trip would sort it).
    fn minify(json: &[u8]) -> Vec<u8> {
        let (mut in_string, mut escaped) = (false, false);
        let mut out = Vec::with_capacity(json.len());
        for &b in json {
            if in_string || !b.is_ascii_whitespace() {
                out.push(b);
            }
            if in_string {
                let closes = b == b'"' && !escaped;
                escaped = b == b'\\' && !escaped;
                in_string = !closes;
            } else {
                in_string = b == b'"';
            }
        }
        out
    }

    #[test]
    fn complete_but_unparsable_falls_back_to_bytes() {
        let invalid = br#"{"Records":[{"eventSource" : "aws:sqs"}]} trailing"#;
        assert_eq!(infer(invalid, true), Trigger::PubSub);
    }

    #[test]
    fn event_source_with_or_without_spaces() {
        for head in [
            &br#"{"Records":[{"eventSource":"aws:sqs""#[..],
            br#"{"Records": [ { "eventSource" : "aws:s3" "#,
            b"{\"Records\":[{\n\t\"eventSource\"\n:\n\"aws:dynamodb\",",
        ] {
            assert_ne!(
                infer(head, false),
                Trigger::Other,
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        assert_eq!(
            infer(br#"{"Records":[{"eventSource": "aws:kinesis""#, false),
            Trigger::PubSub
        );
        // A value cut off by the truncation is not a value.
        assert_eq!(infer(br#"{"eventSource": "aws:sq"#, false), Trigger::Other);
    }

    #[test]
    fn other_event_sources() {
        let cases = [
            (
                r#"{"eventSource":"aws:kafka","eventSourceArn":"arn","records":{}}"#,
                Trigger::PubSub,
            ),
            (
                r#"{"eventSource":"SelfManagedKafka","records":{}}"#,
                Trigger::PubSub,
            ),
            (r#"{"eventSource":"aws:mq","messages":[]}"#, Trigger::PubSub),
            (
                r#"{"eventSource":"aws:rmq","rmqMessagesByQueue":{}}"#,
                Trigger::PubSub,
            ),
            (
                r#"{"eventSourceArn":"arn","events":[],"eventSource":"aws:docdb"}"#,
                Trigger::Datasource,
            ),
            (
                r#"{"Records":[{"eventSource":"aws:unknown"}]}"#,
                Trigger::Other,
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(infer(event.as_bytes(), true), expected, "{event}");
            assert_eq!(infer(event.as_bytes(), false), expected, "{event} as head");
        }
    }

    #[test]
    fn escaped_keys_inside_strings_do_not_count() {
        // An S3 notification delivered through SNS: the outer event decides.
        let event = br#"{"Records":[{"EventSource":"aws:sns","Sns":{"Message":"{\"Records\":[{\"eventSource\":\"aws:s3\"}]}"}}]}"#;
        assert_eq!(infer(event, true), Trigger::PubSub);
        assert_eq!(infer(event, false), Trigger::PubSub);
        let direct = br#"{"payload":"{\"eventSource\":\"aws:sqs\",\"httpMethod\":\"GET\"}"}"#;
        assert_eq!(infer(direct, true), Trigger::Other);
        assert_eq!(infer(direct, false), Trigger::Other);
    }

    #[test]
    fn scheduled_events() {
        let scheduler =
            br#"{"version":"0","detail-type":"Scheduled Event","source":"aws.scheduler","detail":"{}"}"#;
        assert_eq!(infer(scheduler, true), Trigger::Timer);
        // Anyone can put an event with this detail-type on a bus, but only AWS may use `aws.` sources.
        let custom = br#"{"detail-type":"Scheduled Event","source":"com.example","detail":{}}"#;
        assert_eq!(infer(custom, true), Trigger::PubSub);
        assert_eq!(infer(custom, false), Trigger::PubSub);
        // A head that ends before `source`.
        assert_eq!(
            infer(br#"{"detail-type": "Scheduled Event", "sou"#, false),
            Trigger::Timer
        );
    }

    #[test]
    fn eventbridge_needs_source_when_parsed() {
        assert_eq!(
            infer(br#"{"detail-type":"Order Placed"}"#, true),
            Trigger::Other
        );
        assert_eq!(
            infer(
                br#"{"detail-type":"Order Placed","source":"com.example.orders"}"#,
                true
            ),
            Trigger::PubSub
        );
    }

    #[test]
    fn request_context_alone_is_not_http() {
        // An asynchronous invocation record delivered to a Lambda destination.
        let record = br#"{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z",
            "requestContext":{"requestId":"e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn":"arn:aws:lambda:us-east-2:123456789012:function:my-function:$LATEST",
            "condition":"RetriesExhausted","approximateInvokeCount":3},
            "requestPayload":{"ORDER_IDS":["9e07af03-ce31-4ff3-xmpl-36dce652cb4f"]}}"#;
        assert_eq!(infer(record, true), Trigger::Other);
        assert_eq!(infer(&record[..150], false), Trigger::Other);
        // WebSocket APIs: no HTTP request per message.
        let websocket = br#"{"requestContext":{"routeKey":"$connect","eventType":"CONNECT","connectionId":"abc"},"isBase64Encoded":false}"#;
        assert_eq!(infer(websocket, true), Trigger::Other);
    }

    #[test]
    fn odd_payloads_are_other() {
        for (event, complete) in [
            (&b""[..], true),
            (b"", false),
            (b"   ", true),
            (b"null", true),
            (b"42", true),
            (b"\"hello\"", true),
            (b"[]", true),
            (br#"[{"eventSource":"aws:sqs"}]"#, true),
            (b"{}", true),
            (br#"{"key1":"value1","key2":"value2"}"#, true),
            (b"not json at all", true),
            (b"\xff\xfe\x00garbage", false),
            (br#"{"Records":"nope"}"#, true),
            (br#"{"Records":[1,2]}"#, true),
            (br#"{"httpMethod":{"x":1},"resource":["/"]}"#, true),
        ] {
            assert_eq!(
                infer(event, complete),
                Trigger::Other,
                "{}",
                String::from_utf8_lossy(event)
            );
        }
    }

    #[test]
    fn unexpected_field_types_do_not_hide_a_shape() {
        let event =
            br#"{"source":{"nested":true},"Records":[{"eventSource":"aws:sqs","EventSource":5}]}"#;
        assert_eq!(infer(event, true), Trigger::PubSub);
    }

    #[test]
    fn attribute_values() {
        let values = [
            Trigger::Http,
            Trigger::PubSub,
            Trigger::Datasource,
            Trigger::Timer,
            Trigger::Other,
        ]
        .map(Trigger::as_str);
        assert_eq!(values, ["http", "pubsub", "datasource", "timer", "other"]);
    }
}
