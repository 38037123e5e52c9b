//! Which source an event comes from: on the parsed document ([`detect`]) when the whole event was
//! captured and parses, otherwise on the head's bytes ([`detect_head`]).
//!
//! Both ask in the same order. First the name an event gives its source (`eventSource`: a record's,
//! SNS's `EventSource`, or the top level's), looked up among the sources' [`EventSource::names`];
//! then each source's shape, in [`Source::DETECTION_ORDER`]; anything else is [`Source::Other`].
//!
//! [`EventSource::names`]: super::EventSource::names

use serde_json::Value;

use super::fields::text;
use super::records::record_source_name;
use super::sniff::HeadSniff;
use super::Source;

/// The source of a whole, parsed event.
pub fn detect(event: &Value) -> Source {
    let Some(object) = event.as_object() else {
        return Source::Other;
    };
    let records: &[Value] = match object.get("Records") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(records)) if records.iter().all(Value::is_object) => records,
        // `Records` of another shape: none of the known events, whatever else the object holds.
        Some(_) => return Source::Other,
    };
    let named = records
        .iter()
        .filter_map(record_source_name)
        .chain(text(event, "eventSource"))
        .find_map(|name| Source::named(name.as_bytes()));
    named.unwrap_or_else(|| {
        Source::DETECTION_ORDER
            .into_iter()
            .find(|source| source.behaviour().detect(event))
            .unwrap_or(Source::Other)
    })
}

/// The source of an event from its head's bytes (a cut or unparsable head).
pub fn detect_head(head: &[u8]) -> Source {
    let head = HeadSniff::new(head);
    let name = head
        .string_value(b"\"eventSource\"")
        .or_else(|| head.string_value(b"\"EventSource\""));
    name.and_then(Source::named).unwrap_or_else(|| {
        Source::DETECTION_ORDER
            .into_iter()
            .find(|source| source.behaviour().detect_head(&head))
            .unwrap_or(Source::Other)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ParsedBody, Trigger};

    fn infer(head: &[u8], complete: bool) -> Trigger {
        ParsedBody::new(head, complete).trigger()
    }

    /// The golden fixtures (transcribed from the AWS documentation samples) and their triggers.
    const FIXTURES: [(&str, &[u8], Trigger); 11] = [
        (
            "apigw-rest",
            include_bytes!("../../tests/fixtures/events/apigw-rest.json"),
            Trigger::Http,
        ),
        (
            "apigw-http-v2",
            include_bytes!("../../tests/fixtures/events/apigw-http-v2.json"),
            Trigger::Http,
        ),
        (
            "function-url",
            include_bytes!("../../tests/fixtures/events/function-url.json"),
            Trigger::Http,
        ),
        (
            "alb",
            include_bytes!("../../tests/fixtures/events/alb.json"),
            Trigger::Http,
        ),
        (
            "sqs",
            include_bytes!("../../tests/fixtures/events/sqs.json"),
            Trigger::PubSub,
        ),
        (
            "sns",
            include_bytes!("../../tests/fixtures/events/sns.json"),
            Trigger::PubSub,
        ),
        (
            "s3",
            include_bytes!("../../tests/fixtures/events/s3.json"),
            Trigger::Datasource,
        ),
        (
            "eventbridge",
            include_bytes!("../../tests/fixtures/events/eventbridge.json"),
            Trigger::PubSub,
        ),
        (
            "scheduled",
            include_bytes!("../../tests/fixtures/events/scheduled.json"),
            Trigger::Timer,
        ),
        (
            "kinesis",
            include_bytes!("../../tests/fixtures/events/kinesis.json"),
            Trigger::PubSub,
        ),
        (
            "dynamodb",
            include_bytes!("../../tests/fixtures/events/dynamodb.json"),
            Trigger::Datasource,
        ),
    ];

    #[test]
    fn fixture_sources() {
        let sources = [
            Source::Http,
            Source::Http,
            Source::Http,
            Source::Http,
            Source::Sqs,
            Source::Sns,
            Source::S3,
            Source::EventBridge,
            Source::Scheduled,
            Source::Kinesis,
            Source::DynamoDb,
        ];
        for ((name, bytes, _), source) in FIXTURES.into_iter().zip(sources) {
            let event: Value = serde_json::from_slice(bytes).expect("valid JSON");
            assert_eq!(detect(&event), source, "{name}");
            assert_eq!(detect_head(&bytes[..200]), source, "{name} head");
        }
    }

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
}
