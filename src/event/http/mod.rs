//! HTTP requests: API Gateway REST APIs (v1 payload, also Lambda REQUEST authorizers), HTTP APIs
//! (v2 payload), function URLs (v2 payload) and Application Load Balancers (v1 payload with
//! `requestContext.elb`).
//!
//! Recognised by `requestContext.http` or `requestContext.elb` (objects), `httpMethod` with
//! `requestContext` or `resource`, or `rawPath` with `routeKey` or `rawQueryString`; a cut head by
//! the same keys. `requestContext` alone is not enough: asynchronous-invocation destination records
//! and WebSocket APIs have one too.
//!
//! Attributes: `http.request.method` (`_OTHER` + `http.request.method_original` for unknown
//! methods), `http.route` (REST `resource`; v2 `routeKey` without its method; none for `$default`,
//! function URLs and ALB, whose paths are not templates), `url.path`, `url.query`, `url.scheme`,
//! `user_agent.original`, `client.address` (REST `requestContext.identity.sourceIp`, v2
//! `requestContext.http.sourceIp`, ALB first `X-Forwarded-For` entry), `server.address`
//! (`requestContext.domainName`, else `Host`), `server.port` (`X-Forwarded-Port`),
//! `network.protocol.version`; span name `{method} {route}`, or `{method}` without a route (`HTTP`
//! for `_OTHER`), per `docs/http/http-spans.md`. The URL path and query can carry secrets: they go
//! through [`redact::redact_text`] (query: a parameter whose name matches a key rule keeps its name
//! and loses its value; both: the value detectors). The response's status: [`response_status`].

mod headers;
mod status;

use serde_json::Value;

pub use self::headers::Headers;
pub use self::status::response_status;
use super::fields::text;
use super::{EventAttributes, EventSource, HeadSniff, ParsedBody, Trigger};
use crate::redact::{self, RedactionRules};
use crate::spans::names::semconv;

/// The methods OpenTelemetry knows; any other is reported as `_OTHER`.
const KNOWN_METHODS: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

/// API Gateway, function URLs and ALB.
pub(super) struct Http;

impl EventSource for Http {
    fn trigger(&self) -> Trigger {
        Trigger::Http
    }

    fn detect(&self, event: &Value) -> bool {
        let context = event.get("requestContext").and_then(Value::as_object);
        let has_object = |key| {
            context
                .and_then(|c| c.get(key))
                .is_some_and(Value::is_object)
        };
        has_object("http")
            || has_object("elb")
            || (text(event, "httpMethod").is_some()
                && (context.is_some() || text(event, "resource").is_some()))
            || (text(event, "rawPath").is_some()
                && (text(event, "routeKey").is_some() || text(event, "rawQueryString").is_some()))
    }

    fn detect_head(&self, head: &HeadSniff<'_>) -> bool {
        let has = |key: &[u8]| head.has(key);
        (has(b"\"httpMethod\"") && (has(b"\"requestContext\"") || has(b"\"resource\"")))
            || (has(b"\"requestContext\"") && (has(b"\"elb\"") || has(b"\"http\"")))
            || (has(b"\"rawPath\"") && (has(b"\"routeKey\"") || has(b"\"rawQueryString\"")))
    }

    fn attributes(
        &self,
        event: &ParsedBody<'_>,
        rules: &RedactionRules,
        out: &mut EventAttributes,
    ) {
        if let Some(event) = event.value() {
            request_attributes(event, rules, out);
        }
    }

    fn headers<'a>(&self, event: &'a Value) -> Option<Headers<'a>> {
        Some(Headers::of(event))
    }
}

fn request_attributes(event: &Value, rules: &RedactionRules, out: &mut EventAttributes) {
    let context = event.get("requestContext");
    let headers = Headers::of(event);
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
            out.str(semconv::HTTP_REQUEST_METHOD, upper);
        } else {
            out.str(semconv::HTTP_REQUEST_METHOD, "_OTHER");
            out.str(semconv::HTTP_REQUEST_METHOD_ORIGINAL, method);
        }
    }
    if let Some(route) = route {
        out.str(semconv::HTTP_ROUTE, route);
    }

    let path = match v2 {
        Some(h) => text(event, "rawPath").or_else(|| text(h, "path")),
        None => text(event, "path"),
    };
    if let Some(path) = path {
        out.str(semconv::URL_PATH, redact::redact_text(path, rules).0);
    }
    let query = match v2 {
        Some(_) => text(event, "rawQueryString").map(str::to_owned),
        None => rebuilt_query(event),
    };
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        out.str(semconv::URL_QUERY, redact::redact_text(&query, rules).0);
    }
    // API Gateway and function URLs serve HTTPS only; ALB always sets X-Forwarded-Proto.
    let scheme = headers
        .get("x-forwarded-proto")
        .or((!alb).then_some("https"));
    if let Some(scheme) = scheme {
        out.str(semconv::URL_SCHEME, scheme);
    }

    let user_agent = match v2 {
        Some(h) => text(h, "userAgent"),
        None => context
            .and_then(|c| c.get("identity"))
            .and_then(|i| text(i, "userAgent")),
    }
    .or_else(|| headers.get("user-agent"));
    if let Some(user_agent) = user_agent {
        out.str(semconv::USER_AGENT_ORIGINAL, user_agent);
    }
    let client = match v2 {
        Some(h) => text(h, "sourceIp"),
        None if alb => headers
            .get("x-forwarded-for")
            .and_then(|list| list.split(',').next())
            .map(str::trim),
        None => context
            .and_then(|c| c.get("identity"))
            .and_then(|i| text(i, "sourceIp")),
    };
    if let Some(client) = client.filter(|c| !c.is_empty()) {
        out.str(semconv::CLIENT_ADDRESS, client);
    }
    let server = context
        .and_then(|c| text(c, "domainName"))
        .or_else(|| headers.get("host"));
    if let Some(server) = server {
        out.str(semconv::SERVER_ADDRESS, server);
    }
    if let Some(port) = headers
        .get("x-forwarded-port")
        .and_then(|p| p.trim().parse().ok())
    {
        out.int(semconv::SERVER_PORT, port);
    }
    let protocol = match v2 {
        Some(h) => text(h, "protocol"),
        None => context.and_then(|c| text(c, "protocol")),
    };
    if let Some(version) = protocol.and_then(|p| p.strip_prefix("HTTP/")) {
        // The registry spells major-only versions without `.0` (`2`, `3`).
        out.str(
            semconv::NETWORK_PROTOCOL_VERSION,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AttrValue, Source};

    fn attrs(event: &str, complete: bool) -> EventAttributes {
        ParsedBody::new(event.as_bytes(), complete).attributes(&RedactionRules::default())
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
    fn headers_of_http_events_only() {
        let rest = br#"{"httpMethod":"GET","resource":"/","headers":{"traceparent":"00-x"}}"#;
        let parsed = ParsedBody::new(rest, true);
        assert_eq!(parsed.source(), Source::Http);
        let headers = parsed.headers().expect("an HTTP event has headers");
        assert_eq!(headers.get("TraceParent"), Some("00-x"));
        let sqs = br#"{"Records":[{"eventSource":"aws:sqs","headers":{"traceparent":"00-x"}}]}"#;
        assert!(ParsedBody::new(sqs, true).headers().is_none());
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
}
