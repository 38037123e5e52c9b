//! Property test of the transforms: for any input — valid JSON in any formatting, truncated or
//! corrupted JSON, arbitrary bytes — every transform yields either valid JSON that differs from the
//! input only by what it meant to change, or nothing (the original bytes are forwarded).

use std::time::{Duration, SystemTime};

use opentelemetry::trace::SpanId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use lambda_lens::record::SpanIdentity;
use lambda_lens::settings::{SettingsGroup, TransformSettings};
use lambda_lens::trace_context::ParentChoice;
use lambda_lens::transform::{Direction, TransformContext, Transforms};

const KEYS: &[&str] = &[
    "headers",
    "statusCode",
    "requestContext",
    "httpMethod",
    "http",
    "elb",
    "multiValueHeaders",
    "user",
    "ssn",
    "body",
    "traceparent",
    "é\"\\",
];

fn random_string(rng: &mut StdRng) -> String {
    let pool = [
        "a", "\"", "\\", "\n", "é", "🎉", "{", "}", "[", "]", ",", ":", " ", "\u{0}",
    ];
    (0..rng.random_range(0..6))
        .map(|_| pool[rng.random_range(0..pool.len())])
        .collect()
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..if depth == 0 { 4 } else { 6 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => json!(rng.random_range(-1000i64..1000)),
        3 => Value::String(random_string(rng)),
        4 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.random_range(0..5) {
                let key = if rng.random_bool(0.7) {
                    KEYS[rng.random_range(0..KEYS.len())].to_owned()
                } else {
                    random_string(rng)
                };
                map.insert(key, random_value(rng, depth - 1));
            }
            Value::Object(map)
        }
    }
}

/// A top-level object shaped like the events and responses the transforms look for.
fn random_document(rng: &mut StdRng) -> Value {
    let mut doc = match random_value(rng, 3) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if rng.random_bool(0.5) {
        doc.insert("requestContext".into(), json!({"http": {"method": "GET"}}));
    }
    if rng.random_bool(0.5) {
        doc.insert("statusCode".into(), json!(200));
    }
    if rng.random_bool(0.5) {
        doc.insert("user".into(), json!({"ssn": random_string(rng), "n": 1}));
    }
    Value::Object(doc)
}

/// The same document with whitespace sprinkled between tokens (outside strings).
fn spaced(rng: &mut StdRng, compact: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    for c in compact.chars() {
        out.push(c);
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if matches!(c, '{' | '[' | ',' | ':') && rng.random_bool(0.3) {
            out.push_str(["\n  ", " ", "\t"][rng.random_range(0..3)]);
        }
    }
    out
}

fn ctx() -> TransformContext {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    TransformContext {
        span: SpanIdentity {
            choice: ParentChoice::lambda(None, at),
            span_id: SpanId::from_bytes([7; 8]),
        },
        sampled: true,
        received_at: at,
        now: at + Duration::from_millis(3),
    }
}

/// `changed` minus what the transforms add or mask must equal `original`.
fn undo(mut changed: Value, original: &Value) -> Value {
    if let (Some(obj), Some(orig)) = (changed.as_object_mut(), original.as_object()) {
        for member in ["headers", "multiValueHeaders"] {
            let had = |name: &str| {
                orig.get(member)
                    .and_then(Value::as_object)
                    .is_some_and(|h| h.contains_key(name))
            };
            let (had_traceparent, had_timing) = (had("traceparent"), had("Server-Timing"));
            if let Some(headers) = obj.get_mut(member).and_then(Value::as_object_mut) {
                if !had_traceparent {
                    headers.remove("traceparent");
                }
                if !had_timing {
                    headers.remove("Server-Timing");
                }
                if headers.is_empty() && !orig.contains_key(member) {
                    obj.remove(member);
                }
            }
        }
        if let (Some(user), Some(orig_user)) = (
            obj.get_mut("user").and_then(Value::as_object_mut),
            orig.get("user").and_then(Value::as_object),
        ) {
            if user.get("ssn") == Some(&json!("[REDACTED]")) {
                if let Some(ssn) = orig_user.get("ssn") {
                    user.insert("ssn".into(), ssn.clone());
                }
            }
        }
    }
    changed
}

#[test]
fn any_input_yields_valid_json_changed_only_as_meant_or_the_original() {
    let (settings, warnings) = TransformSettings::from_lookup(|k| match k {
        "LAMBDA_LENS_INJECT_TRACEPARENT" | "LAMBDA_LENS_RESPONSE_HEADERS" => Some("true".into()),
        "LAMBDA_LENS_MASK_RESPONSE_PATHS" => Some("user.ssn".into()),
        _ => None,
    });
    assert!(warnings.is_empty());
    let transforms = Transforms::new(&settings);
    let mut rng = StdRng::seed_from_u64(0x1a3bda);
    let (mut changed_count, mut kept_count) = (0, 0);
    for case in 0..3000 {
        let doc = random_document(&mut rng);
        let compact = serde_json::to_string(&doc).expect("serializes");
        let mut bytes = match case % 4 {
            0 => compact.into_bytes(),
            1 => serde_json::to_string_pretty(&doc)
                .expect("serializes")
                .into_bytes(),
            2 => spaced(&mut rng, &compact).into_bytes(),
            _ => {
                // Corrupted: truncated or with a flipped byte.
                let mut b = compact.into_bytes();
                if rng.random_bool(0.5) && !b.is_empty() {
                    let cut = rng.random_range(0..b.len());
                    b.truncate(cut);
                } else if !b.is_empty() {
                    let at = rng.random_range(0..b.len());
                    b[at] = rng.random();
                }
                b
            }
        };
        if case % 97 == 0 {
            bytes = (0..rng.random_range(0..40)).map(|_| rng.random()).collect();
        }
        let original: Option<Value> = serde_json::from_slice(&bytes).ok();
        for direction in [Direction::Event, Direction::Response] {
            match transforms.apply(direction, &bytes, &ctx()) {
                None => kept_count += 1,
                Some(out) => {
                    changed_count += 1;
                    let out: Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
                        panic!(
                            "case {case}: invalid JSON out ({e}) for input {:?}",
                            String::from_utf8_lossy(&bytes)
                        )
                    });
                    let original = original.as_ref().unwrap_or_else(|| {
                        panic!(
                            "case {case}: non-JSON input was changed: {:?}",
                            String::from_utf8_lossy(&bytes)
                        )
                    });
                    assert_eq!(
                        &undo(out, original),
                        original,
                        "case {case}: unexpected change"
                    );
                }
            }
        }
    }
    assert!(
        changed_count > 500 && kept_count > 500,
        "both outcomes exercised: {changed_count}/{kept_count}"
    );
}
