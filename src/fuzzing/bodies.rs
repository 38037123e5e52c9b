//! Fuzz targets for what lambda-lens does to bodies: redaction (no planted secret survives, and a
//! whole JSON document stays one) and transforms (the result is JSON that differs from the input
//! only by the transform's own edits, or the body is left alone).

use std::time::{Duration, SystemTime};

use opentelemetry::trace::SpanId;
use serde_json::{Map, Value};

use crate::event::ParsedBody;
use crate::json::JsonPath;
use crate::record::SpanIdentity;
use crate::redact::{captured_body, redact_text, BodyEncoding, RedactionRules, REDACTED};
use crate::settings::TransformSettings;
use crate::trace_context::ParentChoice;
use crate::transform::{Direction, TransformContext, Transforms};

/// Secrets the redaction target plants in every input, under a key the default rules redact:
/// none may appear in the output more often than the fuzzer's own bytes already hold it.
pub const SEEDED_SECRETS: [(&str, &str); 4] = [
    ("password", "hunter2-f7c1"),
    (
        "Authorization",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
    ),
    ("apiKey", "ak-93d0e1b2"),
    ("sessionToken", "s3ss10n-77aa"),
];

/// The top-level member the transforms target masks.
const MASKED: &str = "pin";

/// Room enough that no fuzz input is cut.
const NO_LIMIT: usize = usize::MAX / 2;

/// Plants one of [`SEEDED_SECRETS`] (chosen by the input) in the input and captures it as the
/// proxy captures bodies, then as free text: the secret never survives, and a whole JSON document
/// is captured as JSON.
pub fn redaction(data: &[u8]) {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let (key, secret) = SEEDED_SECRETS[usize::from(pick) % SEEDED_SECRETS.len()];
    let rules = RedactionRules::default();
    let planted = match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(mut object)) => {
            object.insert(key.to_owned(), Value::String(secret.to_owned()));
            Some(Value::Object(object))
        }
        Ok(other) => Some(Value::Object(Map::from_iter([
            ("data".to_owned(), other),
            (key.to_owned(), Value::String(secret.to_owned())),
        ]))),
        Err(_) => None,
    };
    let body = match &planted {
        Some(value) => value.to_string().into_bytes(),
        None => [data, format!("\n{key}={secret}\n").as_bytes()].concat(),
    };
    let already = occurrences(data, secret.as_bytes());
    let captured = captured_body(&ParsedBody::new(&body, true), &rules, NO_LIMIT);
    assert!(
        occurrences(captured.text.as_bytes(), secret.as_bytes()) <= already,
        "{secret:?} survived capture: {}",
        captured.text
    );
    if planted.is_some() {
        assert_eq!(captured.encoding, BodyEncoding::Json, "{}", captured.text);
        assert!(!captured.truncated);
        if let Err(e) = serde_json::from_str::<Value>(&captured.text) {
            panic!("captured JSON does not parse ({e}): {}", captured.text);
        }
    }
    let text = String::from_utf8_lossy(&body);
    let (redacted, _) = redact_text(&text, &rules);
    assert!(
        occurrences(redacted.as_bytes(), secret.as_bytes()) <= already,
        "{secret:?} survived text redaction: {redacted}"
    );
}

/// Runs every transform on the input as an event and as a response: an edited body parses as
/// JSON and equals the input once the transform's own members are taken out again.
pub fn transforms(data: &[u8]) {
    let settings = TransformSettings {
        inject_traceparent: true,
        response_headers: true,
        mask_response_paths: JsonPath::parse(MASKED).into_iter().collect(),
    };
    let transforms = Transforms::new(&settings);
    let ctx = example_context();
    for direction in [Direction::Event, Direction::Response] {
        let Some(out) = transforms.apply(direction, data, &ctx) else {
            continue;
        };
        let original: Value = serde_json::from_slice(data)
            .unwrap_or_else(|e| panic!("{direction:?}: a body that is not JSON ({e}) was edited"));
        let mut edited: Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!(
                "{direction:?}: the edit is not JSON ({e}): {}",
                String::from_utf8_lossy(&out)
            )
        });
        let added: &[&str] = match direction {
            Direction::Event => &["traceparent"],
            Direction::Response => &["traceparent", "Server-Timing"],
        };
        for member in ["headers", "multiValueHeaders"] {
            take_out(&mut edited, &original, member, added);
        }
        let mut expected = original.clone();
        if direction == Direction::Response {
            if let Some(masked) = expected.get_mut(MASKED) {
                *masked = Value::String(REDACTED.to_owned());
            }
        }
        assert_eq!(
            edited, expected,
            "{direction:?}: more than the transform's edits"
        );
    }
}

/// Removes the `names` a transform added to the top-level object `member` of `edited`, and the
/// member itself when the transform created it.
fn take_out(edited: &mut Value, original: &Value, member: &str, names: &[&str]) {
    let Some(object) = edited.get_mut(member).and_then(Value::as_object_mut) else {
        return;
    };
    for name in names {
        object.remove(*name);
    }
    if original.get(member).is_none() && object.is_empty() {
        if let Some(top) = edited.as_object_mut() {
            top.remove(member);
        }
    }
}

/// How many times `needle` occurs in `haystack` (overlaps counted).
fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// The invocation the transforms target runs with (and the transform unit tests): the X-Ray
/// documentation's example trace, a fixed span id, sampled, 12.345 ms after the event arrived.
pub fn example_context() -> TransformContext {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    TransformContext {
        span: SpanIdentity {
            choice: ParentChoice::lambda(
                Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
                at,
            ),
            span_id: SpanId::from_bytes([0xab; 8]),
        },
        sampled: true,
        received_at: at,
        now: at + Duration::from_micros(12_345),
    }
}
