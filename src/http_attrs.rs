//! Trigger-aware span attributes taken from an invocation's event and response heads.
//!
//! This module owns the mapping from AWS event fields to OpenTelemetry semantic-convention
//! attributes. It reads the raw captured head (not the redacted form) but takes only fields that
//! are not secrets; the two that can carry one, the URL path and query, go through
//! [`redact::redact_text`] (query: a parameter whose name matches a key rule keeps its name and
//! loses its value; both: the value detectors).
//!
//! | Event (recognised by [`crate::trigger`]) | Attributes |
//! |---|---|
//! | API Gateway REST, HTTP API (v2), function URL, ALB | `http.request.method` (`_OTHER` + `http.request.method_original` for unknown methods), `http.route` (REST `resource`; v2 `routeKey` without its method; none for `$default`, function URLs and ALB, whose paths are not templates), `url.path`, `url.query`, `url.scheme`, `user_agent.original`, `client.address` (REST `requestContext.identity.sourceIp`, v2 `requestContext.http.sourceIp`, ALB first `X-Forwarded-For` entry), `server.address` (`requestContext.domainName`, else `Host`), `server.port` (`X-Forwarded-Port`), `network.protocol.version`; span name `{method} {route}`, or `{method}` without a route (`HTTP` for `_OTHER`) |
//! | SQS | `messaging.system`=`aws_sqs`, `messaging.destination.name` (queue, from `eventSourceARN`), `messaging.operation.type`=`process`, `messaging.batch.message_count` |
//! | SNS | `messaging.system`=`aws.sns`, `messaging.destination.name` (topic), `aws.sns.topic.arn`, `messaging.message.id`, `messaging.operation.type`=`process` |
//! | Kinesis | `messaging.system`=`aws.kinesis`, `messaging.destination.name` and `aws.kinesis.stream_name` (from `eventSourceARN`), `messaging.operation.type`=`process`, `messaging.batch.message_count` |
//! | EventBridge (not schedules) | `messaging.system`=`aws.eventbridge`, `messaging.message.id` (`id`), `messaging.operation.type`=`process` |
//! | S3 | `aws.s3.bucket`, `aws.s3.key` (first record; URL-decoded, S3 notifications encode keys), `lambda_lens.event.record_count` |
//! | DynamoDB Streams | `aws.dynamodb.table_names` (from `eventSourceARN`), `lambda_lens.event.record_count` |
//!
//! Names and values are those of the OpenTelemetry semantic conventions registry
//! (`open-telemetry/semantic-conventions`, `docs/registry/attributes/{http,url,client,server,
//! network,user-agent,messaging,aws}.md`, and `docs/http/http-spans.md` for the HTTP server span
//! name and the `_OTHER` method rule). `messaging.system` has registered values only for SQS
//! (`aws_sqs`) and SNS (`aws.sns`); the registry allows custom values otherwise, so Kinesis and
//! EventBridge get `aws.kinesis` and `aws.eventbridge` in the style of `aws.sns`. No convention
//! counts the records of a data-source event, hence the `lambda_lens.` name.
//! `messaging.batch.message_count` is only set when the whole event was captured.
//!
//! A truncated head is parsed up to its last complete value (see [`parse_prefix`]), so only fields
//! that are certain are reported; nothing here panics on odd input.

use serde_json::Value;

use crate::redact::{self, RedactionRules};
use crate::trigger::{self, Trigger};

/// A span attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A string array (`aws.dynamodb.table_names`).
    StrArray(Vec<String>),
}

impl From<AttrValue> for opentelemetry::Value {
    fn from(value: AttrValue) -> Self {
        match value {
            AttrValue::Str(s) => s.into(),
            AttrValue::Int(i) => i.into(),
            AttrValue::StrArray(items) => opentelemetry::Value::Array(
                items
                    .into_iter()
                    .map(opentelemetry::StringValue::from)
                    .collect::<Vec<_>>()
                    .into(),
            ),
        }
    }
}

/// What an event tells about the invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventAttributes {
    /// The span name for HTTP events (`GET /items/{id}`); `None` keeps the function name.
    pub span_name: Option<String>,
    /// Semantic-convention attributes, in a stable order.
    pub attributes: Vec<(&'static str, AttrValue)>,
}

impl EventAttributes {
    fn str(&mut self, key: &'static str, value: impl Into<String>) {
        self.attributes.push((key, AttrValue::Str(value.into())));
    }

    fn int(&mut self, key: &'static str, value: i64) {
        self.attributes.push((key, AttrValue::Int(value)));
    }
}

/// Attributes from the event head (`complete`: the head is the whole event). `rules` decide which
/// query parameters lose their values.
pub fn event_attributes(head: &[u8], complete: bool, rules: &RedactionRules) -> EventAttributes {
    let mut out = EventAttributes::default();
    let Some(event) = parse_prefix(head) else {
        return out;
    };
    match trigger::infer(head, complete) {
        Trigger::Http => http(&event, rules, &mut out),
        Trigger::PubSub | Trigger::Datasource => {
            records(&event, complete, &mut out);
            if out.attributes.is_empty() {
                eventbridge(&event, &mut out);
            }
        }
        Trigger::Timer | Trigger::Other => {}
    }
    out
}

/// The HTTP status of a proxy-integration response (`{"statusCode": 200, ...}`; a string holding
/// a number is accepted, as API Gateway does), if it is a valid status code.
pub fn response_status(head: &[u8]) -> Option<i64> {
    let status = match parse_prefix(head)?.get("statusCode")? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (100..=599).contains(&status).then_some(status)
}

/// The methods OpenTelemetry knows; any other is reported as `_OTHER`.
const KNOWN_METHODS: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

fn http(event: &Value, rules: &RedactionRules, out: &mut EventAttributes) {
    let context = event.get("requestContext");
    // v2 (HTTP API, function URL): fields under `requestContext.http`. A truncated head may end
    // before `requestContext`, but `rawPath` already tells the shape; `Null` then finds nothing.
    let v2 = context
        .and_then(|c| c.get("http"))
        .filter(|h| h.is_object())
        .or_else(|| event.get("rawPath").map(|_| &Value::Null));
    let alb = context.is_some_and(|c| c.get("elb").is_some());

    let method = match v2 {
        Some(h) => text(h, "method"),
        None => text(event, "httpMethod"),
    };
    let route = match v2 {
        // `GET /items/{id}` or `ANY /items/{id}`; `$default` matches everything: no template.
        Some(_) => text(event, "routeKey")
            .and_then(|key| key.split_once(' '))
            .map(|(_, route)| route),
        None if alb => None,
        None => text(event, "resource"),
    };
    if let Some(method) = method {
        let upper = method.to_ascii_uppercase();
        let known = KNOWN_METHODS.contains(&upper.as_str());
        let name_method = if known { upper.as_str() } else { "HTTP" };
        out.span_name = Some(match route {
            Some(route) => format!("{name_method} {route}"),
            None => name_method.to_owned(),
        });
        if known {
            out.str("http.request.method", upper);
        } else {
            out.str("http.request.method", "_OTHER");
            out.str("http.request.method_original", method);
        }
    }
    if let Some(route) = route {
        out.str("http.route", route);
    }

    let path = match v2 {
        Some(h) => text(event, "rawPath").or_else(|| text(h, "path")),
        None => text(event, "path"),
    };
    if let Some(path) = path {
        out.str("url.path", redact::redact_text(path, rules).0);
    }
    let query = match v2 {
        Some(_) => text(event, "rawQueryString").map(str::to_owned),
        None => rebuilt_query(event),
    };
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        out.str("url.query", redact::redact_text(&query, rules).0);
    }
    // API Gateway and function URLs serve HTTPS only; ALB always sets X-Forwarded-Proto.
    let scheme = header(event, "x-forwarded-proto").or((!alb).then_some("https"));
    if let Some(scheme) = scheme {
        out.str("url.scheme", scheme);
    }

    let user_agent = match v2 {
        Some(h) => text(h, "userAgent"),
        None => context
            .and_then(|c| c.get("identity"))
            .and_then(|i| text(i, "userAgent")),
    }
    .or_else(|| header(event, "user-agent"));
    if let Some(user_agent) = user_agent {
        out.str("user_agent.original", user_agent);
    }
    let client = match v2 {
        Some(h) => text(h, "sourceIp"),
        None if alb => header(event, "x-forwarded-for")
            .and_then(|list| list.split(',').next())
            .map(str::trim),
        None => context
            .and_then(|c| c.get("identity"))
            .and_then(|i| text(i, "sourceIp")),
    };
    if let Some(client) = client.filter(|c| !c.is_empty()) {
        out.str("client.address", client);
    }
    let server = context
        .and_then(|c| text(c, "domainName"))
        .or_else(|| header(event, "host"));
    if let Some(server) = server {
        out.str("server.address", server);
    }
    if let Some(port) = header(event, "x-forwarded-port").and_then(|p| p.trim().parse().ok()) {
        out.int("server.port", port);
    }
    let protocol = match v2 {
        Some(h) => text(h, "protocol"),
        None => context.and_then(|c| text(c, "protocol")),
    };
    if let Some(version) = protocol.and_then(|p| p.strip_prefix("HTTP/")) {
        // The registry spells major-only versions without `.0` (`2`, `3`).
        out.str(
            "network.protocol.version",
            version
                .strip_suffix(".0")
                .filter(|v| *v != "1")
                .unwrap_or(version),
        );
    }
}

/// REST and ALB events carry parsed parameters only: `k=v&k=v2`, multi-value form preferred.
fn rebuilt_query(event: &Value) -> Option<String> {
    let pairs: Vec<String> = match event
        .get("multiValueQueryStringParameters")
        .and_then(Value::as_object)
    {
        Some(multi) => multi
            .iter()
            .flat_map(|(k, values)| {
                values
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(move |v| format!("{k}={v}"))
            })
            .collect(),
        None => event
            .get("queryStringParameters")?
            .as_object()?
            .iter()
            .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
            .collect(),
    };
    Some(pairs.join("&"))
}

/// A header value, by case-insensitive name, from `headers` or else `multiValueHeaders`.
fn header<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    let find = |field: &str| {
        event
            .get(field)?
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    find("headers")
        .and_then(Value::as_str)
        .or_else(|| find("multiValueHeaders")?.get(0)?.as_str())
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str()
}

/// `Records`-based events (SQS, SNS, Kinesis, S3, DynamoDB Streams), judged by the first record.
fn records(event: &Value, complete: bool, out: &mut EventAttributes) {
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        return;
    };
    let Some(first) = records.first() else {
        return;
    };
    let source = text(first, "eventSource").or_else(|| text(first, "EventSource"));
    let source_arn = text(first, "eventSourceARN").unwrap_or_default();
    // The count is only known when the whole array was captured.
    let count = i64::try_from(records.len()).ok().filter(|_| complete);
    match source {
        Some("aws:sqs") => {
            messaging(out, "aws_sqs", arn_resource(source_arn));
            if let Some(count) = count {
                out.int("messaging.batch.message_count", count);
            }
        }
        Some("aws:sns") => {
            let sns = first.get("Sns");
            let topic_arn = sns.and_then(|s| text(s, "TopicArn"));
            messaging(out, "aws.sns", topic_arn.and_then(arn_resource));
            if let Some(arn) = topic_arn {
                out.str("aws.sns.topic.arn", arn);
            }
            if let Some(id) = sns.and_then(|s| text(s, "MessageId")) {
                out.str("messaging.message.id", id);
            }
        }
        Some("aws:kinesis") => {
            let stream = arn_resource(source_arn)
                .and_then(|r| r.strip_prefix("stream/"))
                .and_then(|r| r.split('/').next());
            messaging(out, "aws.kinesis", stream);
            if let Some(stream) = stream {
                out.str("aws.kinesis.stream_name", stream);
            }
            if let Some(count) = count {
                out.int("messaging.batch.message_count", count);
            }
        }
        Some("aws:s3") => {
            let s3 = first.get("s3");
            if let Some(bucket) = s3.and_then(|s| s.pointer("/bucket/name")?.as_str()) {
                out.str("aws.s3.bucket", bucket);
            }
            if let Some(key) = s3.and_then(|s| s.pointer("/object/key")?.as_str()) {
                out.str("aws.s3.key", decode_s3_key(key));
            }
            if let Some(count) = count {
                out.int("lambda_lens.event.record_count", count);
            }
        }
        Some("aws:dynamodb") => {
            let table = arn_resource(source_arn)
                .and_then(|r| r.strip_prefix("table/"))
                .and_then(|r| r.split('/').next());
            if let Some(table) = table {
                out.attributes.push((
                    "aws.dynamodb.table_names",
                    AttrValue::StrArray(vec![table.to_owned()]),
                ));
            }
            if let Some(count) = count {
                out.int("lambda_lens.event.record_count", count);
            }
        }
        _ => {}
    }
}

fn messaging(out: &mut EventAttributes, system: &str, destination: Option<&str>) {
    out.str("messaging.system", system);
    if let Some(destination) = destination {
        out.str("messaging.destination.name", destination);
    }
    out.str("messaging.operation.type", "process");
}

fn eventbridge(event: &Value, out: &mut EventAttributes) {
    if text(event, "detail-type").is_none() {
        return;
    }
    messaging(out, "aws.eventbridge", None);
    if let Some(id) = text(event, "id") {
        out.str("messaging.message.id", id);
    }
}

/// The resource part of an ARN (`arn:partition:service:region:account:resource`); for SQS and SNS
/// it is the queue or topic name.
fn arn_resource(arn: &str) -> Option<&str> {
    arn.splitn(6, ':').nth(5).filter(|r| !r.is_empty())
}

/// S3 event notifications URL-encode object keys (spaces as `+`).
fn decode_s3_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a JSON head; a head cut by the capture is parsed up to its last complete value (a value
/// cut in the middle, or a key without its value, is left out) with the open containers closed.
fn parse_prefix(head: &[u8]) -> Option<Value> {
    if let Ok(value) = serde_json::from_slice(head) {
        return Some(value);
    }
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
    };
    serde_json::from_str(&closed_prefix(text)?).ok()
}

/// The longest prefix of `text` that ends after a complete value or an opening bracket, with the
/// brackets still open closed.
fn closed_prefix(text: &str) -> Option<String> {
    struct Open {
        closer: char,
        expecting_key: bool,
    }
    let bytes = text.as_bytes();
    let mut stack: Vec<Open> = Vec::new();
    let mut safe: Option<(usize, String)> = None;
    let closers = |stack: &[Open]| stack.iter().rev().map(|o| o.closer).collect::<String>();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b if b.is_ascii_whitespace() => i += 1,
            open @ (b'{' | b'[') => {
                stack.push(Open {
                    closer: if open == b'{' { '}' } else { ']' },
                    expecting_key: open == b'{',
                });
                i += 1;
                safe = Some((i, closers(&stack)));
            }
            b'}' | b']' => {
                stack.pop();
                i += 1;
                safe = Some((i, closers(&stack)));
            }
            b',' | b':' => {
                if let Some(open) = stack.last_mut() {
                    open.expecting_key = bytes[i] == b',' && open.closer == '}';
                }
                i += 1;
            }
            b'"' => {
                let Some(end) = redact::json_string_end(bytes, i) else {
                    break;
                };
                i = end + 1;
                if !stack.last().is_some_and(|o| o.expecting_key) {
                    safe = Some((i, closers(&stack)));
                }
            }
            _ => {
                let len = bytes[i..]
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || b",:{}[]\"".contains(b));
                // A scalar running into the end may be cut (`20` of `200`).
                let Some(len) = len else {
                    break;
                };
                i += len;
                safe = Some((i, closers(&stack)));
            }
        }
    }
    let (end, closers) = safe?;
    Some(format!("{}{closers}", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(event: &str, complete: bool) -> EventAttributes {
        event_attributes(event.as_bytes(), complete, &RedactionRules::default())
    }

    fn get<'a>(attributes: &'a EventAttributes, key: &str) -> Option<&'a AttrValue> {
        attributes
            .attributes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    fn s(value: &str) -> Option<AttrValue> {
        Some(AttrValue::Str(value.to_owned()))
    }

    #[test]
    fn closed_prefixes() {
        for (head, expected) in [
            (r#"{"a":1,"b":"x"#, Some(r#"{"a":1}"#)),
            (r#"{"a":1,"b":"#, Some(r#"{"a":1}"#)),
            (r#"{"a":1,"b""#, Some(r#"{"a":1}"#)),
            (r#"{"a":[1,2"#, Some(r#"{"a":[1]}"#)),
            (r#"{"a":{"#, Some(r#"{"a":{}}"#)),
            (r#"{"statusCode": 20"#, Some("{}")),
            (r#"{"a":"x", "#, Some(r#"{"a":"x"}"#)),
            ("", None),
            ("   ", None),
        ] {
            assert_eq!(closed_prefix(head).as_deref(), expected, "{head}");
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(
            response_status(br#"{"statusCode":201,"body":"x"}"#),
            Some(201)
        );
        assert_eq!(response_status(br#"{"statusCode":"404"}"#), Some(404));
        assert_eq!(
            response_status(br#"{"statusCode": 500, "body": "tru"#),
            Some(500)
        );
        for none in [
            &br#"{"statusCode": 50"#[..],
            br#"{"statusCode":42}"#,
            br#"{"statusCode":true}"#,
            br#"{"body":"x"}"#,
            b"[200]",
            b"200",
            b"\xff",
            b"",
        ] {
            assert_eq!(
                response_status(none),
                None,
                "{}",
                String::from_utf8_lossy(none)
            );
        }
    }

    #[test]
    fn v2_route_key_and_unknown_method() {
        let event = r#"{"version":"2.0","routeKey":"GET /items/{id}","rawPath":"/items/7","rawQueryString":"a=1&api_key=k","requestContext":{"http":{"method":"GET","path":"/items/7","protocol":"HTTP/2.0","sourceIp":"192.0.2.1","userAgent":"ua"},"domainName":"api.example.com"}}"#;
        let a = attrs(event, true);
        assert_eq!(a.span_name.as_deref(), Some("GET /items/{id}"));
        assert_eq!(get(&a, "http.route").cloned(), s("/items/{id}"));
        assert_eq!(get(&a, "url.query").cloned(), s("a=1&api_key=[REDACTED]"));
        assert_eq!(get(&a, "network.protocol.version").cloned(), s("2"));

        let odd = event.replace(r#""method":"GET""#, r#""method":"PURGE""#);
        let a = attrs(&odd, true);
        assert_eq!(a.span_name.as_deref(), Some("HTTP /items/{id}"));
        assert_eq!(get(&a, "http.request.method").cloned(), s("_OTHER"));
        assert_eq!(get(&a, "http.request.method_original").cloned(), s("PURGE"));
    }

    #[test]
    fn rest_query_is_rebuilt_and_redacted() {
        let event = r#"{"resource":"/x","path":"/x","httpMethod":"get","requestContext":{"identity":{}},"queryStringParameters":{"token":"t","q":"1"},"multiValueQueryStringParameters":null}"#;
        let a = attrs(event, true);
        assert_eq!(get(&a, "url.query").cloned(), s("q=1&token=[REDACTED]"));
        assert_eq!(a.span_name.as_deref(), Some("GET /x"));
        assert_eq!(get(&a, "url.scheme").cloned(), s("https"));
    }

    #[test]
    fn s3_keys_are_decoded() {
        assert_eq!(decode_s3_key("a%2Fb+c%zz%"), "a/b c%zz%");
    }

    #[test]
    fn odd_events_give_nothing() {
        for (event, complete) in [
            ("", true),
            ("null", true),
            (r#"{"Records":[]}"#, true),
            (r#"{"Records":[{"eventSource":"aws:sqs"}]}"#, true),
            (r#"{"key":"value"}"#, true),
            ("\u{0}garbage", false),
        ] {
            let a = attrs(event, complete);
            assert!(a.span_name.is_none(), "{event}");
            assert!(
                a.attributes
                    .iter()
                    .all(|(k, _)| k.starts_with("messaging.")),
                "{event}: {a:?}"
            );
        }
    }

    #[test]
    fn otel_values() {
        assert_eq!(
            opentelemetry::Value::from(AttrValue::StrArray(vec!["t".into()])),
            opentelemetry::Value::Array(vec![opentelemetry::StringValue::from("t")].into())
        );
        assert_eq!(
            opentelemetry::Value::from(AttrValue::Int(3)),
            opentelemetry::Value::I64(3)
        );
    }
}
