//! Transforms: deliberate changes to an invocation's event or response, each opt-in by an environment
//! variable, behind one small trait so more can be added.
//!
//! Edits are surgical: the value locator ([`crate::json::locate`]) finds the byte range to change in
//! the original JSON and only those bytes are replaced or inserted, so formatting, key order and
//! number spelling elsewhere stay exactly as the function or the caller wrote them. Every result is
//! checked before use: it must parse as JSON, and with the edit undone it must equal the original.
//! Anything else — non-JSON bodies, streams, shapes the transform does not know, scanner surprises —
//! means the original bytes are forwarded unchanged.
//!
//! | variable | direction | effect |
//! |---|---|---|
//! | `LAMBDA_LENS_INJECT_TRACEPARENT=true` | event | HTTP-shaped events (API Gateway, ALB, Function URL, as recognised by [`crate::event`]) get a `traceparent` header naming the invocation span, so an OpenTelemetry SDK in the function continues the trace under it |
//! | `LAMBDA_LENS_RESPONSE_HEADERS=true` | response | proxy-integration responses (`{"statusCode":…}`) get `traceparent` and `Server-Timing: lambda;dur=<ms>` headers |
//! | `LAMBDA_LENS_MASK_RESPONSE_PATHS=a.b,c[*].d` | response | the values at these JSON paths become `"[REDACTED]"` |

use std::time::SystemTime;

use serde_json::Value;

use crate::event;
use crate::json::{locate, JsonPath, Segment};
use crate::record::SpanIdentity;
use crate::redact::REDACTED;
use crate::settings::TransformSettings;

/// The largest body a transform buffers. Checking an edit parses the body into a JSON tree, which
/// takes tens of times the body's size in memory; 1 MiB keeps that within small functions' memory.
/// Larger bodies pass through untouched.
pub const MAX_TRANSFORM_BYTES: u64 = 1024 * 1024;

/// Which body a transform changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The event handed to the runtime (`/next`).
    Event,
    /// The runtime's response (`/response`).
    Response,
}

/// What a transform may know about the invocation.
#[derive(Debug, Clone)]
pub struct TransformContext {
    /// The invocation span's identity.
    pub span: SpanIdentity,
    /// The invocation's sampling decision, stated by a `traceparent` handed on.
    pub sampled: bool,
    /// When the runtime received the event.
    pub received_at: SystemTime,
    /// Now.
    pub now: SystemTime,
}

/// Why a transform left a body alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// The body is not JSON.
    #[error("not JSON")]
    NotJson,
    /// The body has a shape the transform does not change (e.g. `headers` is not an object, or the
    /// header is already there).
    #[error("shape not supported")]
    Unsupported,
    /// The edited body failed its check (a scanner surprise).
    #[error("edit did not verify")]
    Unverified,
}

/// One deliberate change to an event or response.
pub trait Transform: Send + Sync {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    /// The body it changes.
    fn direction(&self) -> Direction;
    /// The changed body, `Ok(None)` when there is nothing to change, or why not.
    fn apply(&self, body: &[u8], ctx: &TransformContext)
        -> Result<Option<Vec<u8>>, TransformError>;
}

/// The transforms the settings turn on.
pub struct Transforms {
    list: Vec<Box<dyn Transform>>,
}

impl Transforms {
    /// No transforms.
    pub fn none() -> Self {
        Self { list: Vec::new() }
    }

    /// The transforms `settings` turn on, in a fixed order: event traceparent, response headers,
    /// response masking.
    pub fn new(settings: &TransformSettings) -> Self {
        let mut list: Vec<Box<dyn Transform>> = Vec::new();
        if settings.inject_traceparent {
            list.push(Box::new(InjectTraceparent));
        }
        if settings.response_headers {
            list.push(Box::new(ResponseHeaders));
        }
        if !settings.mask_response_paths.is_empty() {
            list.push(Box::new(MaskFields {
                paths: settings.mask_response_paths.clone(),
            }));
        }
        Self { list }
    }

    /// Whether any transform changes bodies going `direction`.
    pub fn any(&self, direction: Direction) -> bool {
        self.list.iter().any(|t| t.direction() == direction)
    }

    /// Whether any transform is on, in either direction.
    pub fn any_at_all(&self) -> bool {
        !self.list.is_empty()
    }

    /// Applies every transform for `direction` in order; the original body when none changed it.
    /// A transform that fails is skipped (logged at debug): the body stays as the previous step left it.
    pub fn apply(
        &self,
        direction: Direction,
        body: &[u8],
        ctx: &TransformContext,
    ) -> Option<Vec<u8>> {
        let mut current: Option<Vec<u8>> = None;
        for t in self.list.iter().filter(|t| t.direction() == direction) {
            let input = current.as_deref().unwrap_or(body);
            match t.apply(input, ctx) {
                Ok(Some(changed)) => current = Some(changed),
                Ok(None) => {}
                Err(e) => tracing::debug!(transform = t.name(), error = %e, "body left unchanged"),
            }
        }
        current
    }
}

/// `traceparent` into HTTP-shaped events.
struct InjectTraceparent;

impl Transform for InjectTraceparent {
    fn name(&self) -> &'static str {
        "inject-traceparent"
    }

    fn direction(&self) -> Direction {
        Direction::Event
    }

    fn apply(
        &self,
        body: &[u8],
        ctx: &TransformContext,
    ) -> Result<Option<Vec<u8>>, TransformError> {
        let original: Value = serde_json::from_slice(body).map_err(|_| TransformError::NotJson)?;
        let source = event::detect(&original);
        let Some(headers) = source.behaviour().headers(&original) else {
            return Ok(None);
        };
        let traceparent = ctx.span.traceparent(ctx.sampled);
        let mut edits = vec![("headers", Value::String(traceparent.clone()))];
        if headers.has_multi_value() {
            edits.push((
                "multiValueHeaders",
                Value::Array(vec![Value::String(traceparent)]),
            ));
        }
        set_members(body, &original, &edits, "traceparent").map(Some)
    }
}

/// `traceparent` and `Server-Timing` into proxy-integration responses.
struct ResponseHeaders;

impl Transform for ResponseHeaders {
    fn name(&self) -> &'static str {
        "response-headers"
    }

    fn direction(&self) -> Direction {
        Direction::Response
    }

    fn apply(
        &self,
        body: &[u8],
        ctx: &TransformContext,
    ) -> Result<Option<Vec<u8>>, TransformError> {
        let original: Value = serde_json::from_slice(body).map_err(|_| TransformError::NotJson)?;
        if !original.get("statusCode").is_some_and(Value::is_u64) {
            return Ok(None);
        }
        let ms = ctx
            .now
            .duration_since(ctx.received_at)
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0;
        let with_traceparent = set_members(
            body,
            &original,
            &[("headers", Value::String(ctx.span.traceparent(ctx.sampled)))],
            "traceparent",
        )?;
        let edited: Value =
            serde_json::from_slice(&with_traceparent).map_err(|_| TransformError::Unverified)?;
        set_members(
            &with_traceparent,
            &edited,
            &[("headers", Value::String(format!("lambda;dur={ms:.1}")))],
            "Server-Timing",
        )
        .map(Some)
    }
}

/// Configured JSON paths masked in responses.
struct MaskFields {
    paths: Vec<JsonPath>,
}

impl Transform for MaskFields {
    fn name(&self) -> &'static str {
        "mask-fields"
    }

    fn direction(&self) -> Direction {
        Direction::Response
    }

    fn apply(
        &self,
        body: &[u8],
        _ctx: &TransformContext,
    ) -> Result<Option<Vec<u8>>, TransformError> {
        let mut original: Value =
            serde_json::from_slice(body).map_err(|_| TransformError::NotJson)?;
        let mut ranges = Vec::new();
        for path in &self.paths {
            ranges.extend(locate::values_at(body, path.segments()));
        }
        if ranges.is_empty() {
            return Ok(None);
        }
        ranges.sort_by_key(|r| r.start);
        ranges.dedup();
        let masked = serde_json::to_string(REDACTED).expect("a string serializes");
        let mut out = body.to_vec();
        for r in ranges.iter().rev() {
            out.splice(r.clone(), masked.bytes());
        }
        // Verify: the result is the original with exactly those values masked.
        for path in &self.paths {
            mask(path, &mut original);
        }
        let edited: Value = serde_json::from_slice(&out).map_err(|_| TransformError::Unverified)?;
        if edited != original {
            return Err(TransformError::Unverified);
        }
        Ok(Some(out))
    }
}

/// Sets `name` in each top-level object member listed in `edits` (creating the member when the
/// top-level object lacks it), by inserting bytes only, then verifies the result.
fn set_members(
    body: &[u8],
    original: &Value,
    edits: &[(&str, Value)],
    name: &str,
) -> Result<Vec<u8>, TransformError> {
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let mut expected = original.clone();
    for (member, value) in edits {
        let entry = format!(
            "{}:{}",
            serde_json::to_string(name).expect("a string serializes"),
            value
        );
        match locate::member_value(body, member) {
            Some(range) if body[range.start] == b'{' => {
                let empty = locate::is_empty_object(&body[range.clone()]);
                let at = range.start + 1;
                inserts.push((at, if empty { entry } else { format!("{entry},") }));
                // Replace an existing header of the same name (any case) in the expected value.
                let obj = expected[*member]
                    .as_object_mut()
                    .ok_or(TransformError::Unverified)?;
                if obj.keys().any(|k| k.eq_ignore_ascii_case(name)) {
                    // The function or caller set it already: theirs wins.
                    return Err(TransformError::Unsupported);
                }
                obj.insert(name.to_owned(), value.clone());
            }
            Some(_) => return Err(TransformError::Unsupported),
            None => {
                let start = locate::top_level_object_start(body).ok_or(TransformError::NotJson)?;
                let empty = original.as_object().is_some_and(|o| o.is_empty());
                let member_json = format!(
                    "{}:{{{entry}}}",
                    serde_json::to_string(member).expect("a string serializes")
                );
                inserts.push((
                    start + 1,
                    if empty {
                        member_json
                    } else {
                        format!("{member_json},")
                    },
                ));
                let mut obj = serde_json::Map::new();
                obj.insert(name.to_owned(), value.clone());
                expected
                    .as_object_mut()
                    .ok_or(TransformError::NotJson)?
                    .insert((*member).to_owned(), Value::Object(obj));
            }
        }
    }
    inserts.sort_by_key(|(at, _)| *at);
    let mut out =
        Vec::with_capacity(body.len() + inserts.iter().map(|(_, s)| s.len()).sum::<usize>());
    let mut last = 0;
    for (at, text) in &inserts {
        out.extend_from_slice(&body[last..*at]);
        out.extend_from_slice(text.as_bytes());
        last = *at;
    }
    out.extend_from_slice(&body[last..]);
    let edited: Value = serde_json::from_slice(&out).map_err(|_| TransformError::Unverified)?;
    if edited != expected {
        return Err(TransformError::Unverified);
    }
    Ok(out)
}

/// Masks every value `path` names in `value` (the expected result of [`MaskFields`]).
fn mask(path: &JsonPath, value: &mut Value) {
    fn walk(v: &mut Value, path: &[Segment]) {
        let Some((first, rest)) = path.split_first() else {
            *v = Value::String(REDACTED.to_owned());
            return;
        };
        match (first, v) {
            (Segment::Key(k), Value::Object(o)) => {
                if let Some(child) = o.get_mut(k) {
                    walk(child, rest);
                }
            }
            (Segment::AnyKey, Value::Object(o)) => {
                for child in o.values_mut() {
                    walk(child, rest);
                }
            }
            (Segment::Index(i), Value::Array(a)) => {
                if let Some(child) = a.get_mut(*i) {
                    walk(child, rest);
                }
            }
            (Segment::AnyIndex, Value::Array(a)) => {
                for child in a {
                    walk(child, rest);
                }
            }
            _ => {}
        }
    }
    walk(value, path.segments());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::SettingsGroup;

    fn ctx() -> TransformContext {
        crate::fuzzing::example_context()
    }

    const TP: &str = "00-5759e988bd862e3fe1be46a994272793-abababababababab-01";

    fn transforms(vars: &[(&str, &str)]) -> Transforms {
        let (settings, warnings) = TransformSettings::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        });
        assert!(warnings.is_empty(), "{warnings:?}");
        Transforms::new(&settings)
    }

    #[test]
    fn traceparent_goes_into_http_event_headers_touching_nothing_else() {
        let t = transforms(&[("LAMBDA_LENS_INJECT_TRACEPARENT", "true")]);
        let event = br#"{ "httpMethod" : "GET", "requestContext": {"stage":"prod"},
  "headers": {"Accept": "*/*"}, "n": 1.50e2 }"#;
        let out = t.apply(Direction::Event, event, &ctx()).expect("changed");
        let expected = format!(
            r#"{{ "httpMethod" : "GET", "requestContext": {{"stage":"prod"}},
  "headers": {{"traceparent":"{TP}","Accept": "*/*"}}, "n": 1.50e2 }}"#
        );
        assert_eq!(String::from_utf8(out).expect("utf-8"), expected);
    }

    #[test]
    fn traceparent_creates_headers_and_fills_multi_value_headers() {
        let t = transforms(&[("LAMBDA_LENS_INJECT_TRACEPARENT", "true")]);
        let v2 = br#"{"requestContext":{"http":{"method":"GET"}}}"#;
        let out = t.apply(Direction::Event, v2, &ctx()).expect("changed");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            format!(
                r#"{{"headers":{{"traceparent":"{TP}"}},"requestContext":{{"http":{{"method":"GET"}}}}}}"#
            )
        );
        let rest = br#"{"httpMethod":"POST","requestContext":{},"headers":{},"multiValueHeaders":{"a":["b"]}}"#;
        let out: Value =
            serde_json::from_slice(&t.apply(Direction::Event, rest, &ctx()).expect("changed"))
                .expect("valid JSON");
        assert_eq!(out["headers"]["traceparent"], TP);
        assert_eq!(out["multiValueHeaders"]["traceparent"][0], TP);
        assert_eq!(out["multiValueHeaders"]["a"][0], "b");
    }

    #[test]
    fn non_http_non_json_and_existing_headers_are_left_alone() {
        let t = transforms(&[("LAMBDA_LENS_INJECT_TRACEPARENT", "true")]);
        for body in [
            &br#"{"Records":[{"eventSource":"aws:sqs"}]}"#[..],
            b"not json at all",
            b"\xff\xfe",
            br#"{"httpMethod":"GET","requestContext":{},"headers":{"TraceParent":"00-x"}}"#,
            br#"[1,2]"#,
        ] {
            assert_eq!(t.apply(Direction::Event, body, &ctx()), None, "{body:?}");
        }
    }

    #[test]
    fn traceparent_goes_into_the_events_the_family_calls_http() {
        let t = transforms(&[("LAMBDA_LENS_INJECT_TRACEPARENT", "true")]);
        for (name, event, http) in [
            (
                "apigw-rest",
                &include_bytes!("../tests/fixtures/events/apigw-rest.json")[..],
                true,
            ),
            (
                "apigw-http-v2",
                include_bytes!("../tests/fixtures/events/apigw-http-v2.json"),
                true,
            ),
            (
                "function-url",
                include_bytes!("../tests/fixtures/events/function-url.json"),
                true,
            ),
            (
                "alb",
                include_bytes!("../tests/fixtures/events/alb.json"),
                true,
            ),
            (
                "sqs",
                include_bytes!("../tests/fixtures/events/sqs.json"),
                false,
            ),
            (
                "sns",
                include_bytes!("../tests/fixtures/events/sns.json"),
                false,
            ),
            (
                "eventbridge",
                include_bytes!("../tests/fixtures/events/eventbridge.json"),
                false,
            ),
            (
                "scheduled",
                include_bytes!("../tests/fixtures/events/scheduled.json"),
                false,
            ),
        ] {
            let out = t.apply(Direction::Event, event, &ctx());
            assert_eq!(out.is_some(), http, "{name}");
            if let Some(out) = out {
                let headers = serde_json::from_slice::<Value>(&out).expect("valid JSON")["headers"]
                    ["traceparent"]
                    .clone();
                assert_eq!(headers, TP, "{name}");
            }
        }
    }

    #[test]
    fn responses_get_traceparent_and_server_timing() {
        let t = transforms(&[("LAMBDA_LENS_RESPONSE_HEADERS", "true")]);
        let body =
            br#"{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{}"}"#;
        let out = t.apply(Direction::Response, body, &ctx()).expect("changed");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            format!(
                r#"{{"statusCode":200,"headers":{{"Server-Timing":"lambda;dur=12.3","traceparent":"{TP}","Content-Type":"application/json"}},"body":"{{}}"}}"#
            )
        );
        assert_eq!(
            t.apply(Direction::Response, br#"{"ok":true}"#, &ctx()),
            None
        );
        assert_eq!(
            t.apply(Direction::Event, body, &ctx()),
            None,
            "direction respected"
        );
    }

    #[test]
    fn masking_replaces_only_the_configured_values() {
        let t = transforms(&[(
            "LAMBDA_LENS_MASK_RESPONSE_PATHS",
            "user.ssn, items[*].card ,$.missing.x",
        )]);
        let body = br#"{"user":{"name":"Ann","ssn":"123-45-6789"},"items":[{"card":4111,"n":1},{"card":{"x":[1]},"n":2}]}"#;
        let out = t.apply(Direction::Response, body, &ctx()).expect("changed");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"{"user":{"name":"Ann","ssn":"[REDACTED]"},"items":[{"card":"[REDACTED]","n":1},{"card":"[REDACTED]","n":2}]}"#
        );
    }
}
