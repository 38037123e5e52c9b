//! Redaction and event attributes on the golden event fixtures (tests/fixtures/events), the same
//! HTTP events with base64 bodies (form posts, JSON, multipart, binary; whole and cut) and a base64
//! response, plus properties: whatever the JSON, nothing stored under a secret key survives;
//! whatever the form post, no field under a secret name does.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use lambda_lens::event::{response_status, AttrValue, EventAttributes, ParsedBody};
use lambda_lens::redact::{
    captured_body, BodyEncoding, RedactionRules, REDACTED, TRUNCATION_MARKER,
};
use proptest::prelude::*;
use serde_json::Value;

const FIXTURES: [&str; 11] = [
    "apigw-rest",
    "apigw-http-v2",
    "function-url",
    "alb",
    "sqs",
    "sns",
    "s3",
    "eventbridge",
    "scheduled",
    "kinesis",
    "dynamodb",
];

/// Substrings of the credentials planted in the HTTP fixtures (the bearer JWT, the session
/// cookies, the IAM access key field); none may appear in any captured form.
const SECRETS: [&str; 4] = ["eyJhbGci", "s3ss10n", "Bearer", "AKIA..."];

const NO_LIMIT: usize = 1 << 20;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn assert_no_secret(name: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{name}: {secret:?} survived in {text}"
        );
    }
}

/// The fixture with the values at `pointers` replaced by [`REDACTED`].
fn expected(name: &str, pointers: &[&str]) -> Value {
    redacted_at(
        serde_json::from_slice(&fixture(name)).unwrap(),
        name,
        pointers,
    )
}

/// `value` with the values at `pointers` replaced by [`REDACTED`].
fn redacted_at(mut value: Value, name: &str, pointers: &[&str]) -> Value {
    for pointer in pointers {
        let slot = value
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{name}: no {pointer}"));
        *slot = Value::from(REDACTED);
    }
    value
}

/// The HTTP fixtures and where their credentials are.
const HTTP_CREDENTIALS: [(&str, &[&str]); 4] = [
    (
        "apigw-rest",
        &[
            "/headers/Authorization",
            "/headers/Cookie",
            "/multiValueHeaders/Authorization/0",
            "/multiValueHeaders/Cookie/0",
        ],
    ),
    (
        "apigw-http-v2",
        &["/headers/authorization", "/cookies/0", "/cookies/1"],
    ),
    (
        "function-url",
        &[
            "/headers/authorization",
            "/cookies/0",
            "/cookies/1",
            "/requestContext/authorizer/iam/accessKey",
        ],
    ),
    ("alb", &["/headers/authorization", "/headers/cookie"]),
];

#[test]
fn http_fixtures_redact_exactly_the_credentials() {
    for (name, pointers) in HTTP_CREDENTIALS {
        let body = captured_body(
            &ParsedBody::new(&fixture(name), true),
            &RedactionRules::default(),
            NO_LIMIT,
        );
        assert_eq!(body.encoding, BodyEncoding::Json, "{name}");
        assert!(!body.truncated, "{name}");
        assert_eq!(body.redactions as usize, pointers.len(), "{name}");
        assert!(!body.text.contains('\n'), "{name}: not compact");
        let redacted: Value = serde_json::from_str(&body.text).unwrap();
        assert_eq!(redacted, expected(name, pointers), "{name}");
        assert_no_secret(name, &body.text);
    }
}

#[test]
fn non_http_fixtures_pass_through_unchanged() {
    for name in [
        "sqs",
        "sns",
        "s3",
        "eventbridge",
        "scheduled",
        "kinesis",
        "dynamodb",
    ] {
        let raw = fixture(name);
        let body = captured_body(
            &ParsedBody::new(&raw, true),
            &RedactionRules::default(),
            NO_LIMIT,
        );
        assert_eq!(
            (body.encoding, body.redactions, body.truncated),
            (BodyEncoding::Json, 0, false),
            "{name}"
        );
        let original: Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&body.text).unwrap(),
            original,
            "{name}"
        );
    }
}

#[test]
fn every_truncated_head_is_still_redacted() {
    let rules = RedactionRules::default();
    for name in FIXTURES {
        let raw = fixture(name);
        let head = captured_body(&ParsedBody::new(&raw[..300], false), &rules, NO_LIMIT);
        assert!(
            head.truncated && head.text.ends_with(TRUNCATION_MARKER),
            "{name}"
        );
        assert_eq!(head.encoding, BodyEncoding::Text, "{name}");
        assert_no_secret(name, &head.text);
        // Every cut, including those inside a key, a header value or an escape.
        for cut in 0..raw.len() {
            let body = captured_body(&ParsedBody::new(&raw[..cut], false), &rules, NO_LIMIT);
            assert_no_secret(&format!("{name}[..{cut}]"), &body.text);
        }
    }
}

#[test]
fn redaction_comes_before_the_limit() {
    let rules = RedactionRules::default();
    for name in ["apigw-rest", "apigw-http-v2", "function-url", "alb"] {
        let raw = fixture(name);
        let whole = captured_body(&ParsedBody::new(&raw, true), &rules, NO_LIMIT).text;
        for limit in [0, 1, 100, 300, 1000, whole.len() - 1]
            .into_iter()
            .filter(|&limit| limit < whole.len())
        {
            let body = captured_body(&ParsedBody::new(&raw, true), &rules, limit);
            assert!(body.truncated, "{name} {limit}");
            let kept = body.text.strip_suffix(TRUNCATION_MARKER).unwrap();
            assert!(kept.len() <= limit, "{name} {limit}");
            assert!(whole.starts_with(kept), "{name} {limit}");
            assert_no_secret(name, &body.text);
        }
        let exact = captured_body(&ParsedBody::new(&raw, true), &rules, whole.len());
        assert_eq!((exact.text, exact.truncated), (whole, false), "{name}");
    }
}

#[test]
fn non_utf8_bodies_are_redacted_or_base64() {
    // Readable parts with secrets: redacted text (invalid bytes as U+FFFD), never base64 that would
    // carry the secrets out.
    let mut raw = fixture("apigw-rest");
    raw[10] = 0xff;
    let body = captured_body(
        &ParsedBody::new(&raw, true),
        &RedactionRules::default(),
        4096,
    );
    assert_ne!(body.encoding, BodyEncoding::Base64);
    assert!(body.redactions >= 2, "{}", body.text);
    assert!(!body.text.contains("eyJ") && !body.text.contains("Bearer"));
    assert!(body.text.contains('\u{fffd}'));

    // Binary with nothing to redact: base64 of the first bytes.
    let binary: Vec<u8> = (0..200u32).map(|i| (i * 7 % 256) as u8).collect();
    let body = captured_body(
        &ParsedBody::new(&binary, true),
        &RedactionRules::default(),
        64,
    );
    assert_eq!(body.encoding, BodyEncoding::Base64);
    assert_eq!(body.redactions, 0);
    assert!(body.truncated);
    let encoded = body
        .text
        .strip_prefix("base64:")
        .and_then(|t| t.strip_suffix(TRUNCATION_MARKER))
        .unwrap();
    let decoded = STANDARD.decode(encoded).unwrap();
    assert_eq!(decoded.len(), 42, "(64 - 7) / 4 * 3 bytes fit");
    assert_eq!(decoded, binary[..42]);
}

/// A login form post, as API Gateway, ALB and function URLs deliver a body they base64-encode.
const FORM_POST: &[u8] = b"user=bob&password=hunter2&remember=1";

/// A multipart form post with a password part.
const MULTIPART: &[u8] = b"--b0undary\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nbob\r\n--b0undary\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nhunter2\r\n--b0undary--\r\n";

/// A JSON answer with a token, as a function returns it base64-encoded.
const TOKEN_JSON: &[u8] = br#"{"user": "bob", "access_token": "tok-5e3ret"}"#;

/// The fixture `name` with `payload` as its base64 body: the fixture's own text with the `body`
/// line replaced and the flag set, so the fields keep the service's order (the flag after the body).
fn with_base64_body(name: &str, payload: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(fixture(name)).unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(|line| match line.strip_prefix("  \"body\": ") {
            Some(_) => format!("  \"body\": \"{}\",", STANDARD.encode(payload)),
            None => line.replace("\"isBase64Encoded\": false", "\"isBase64Encoded\": true"),
        })
        .collect();
    lines.join("\n").into_bytes()
}

/// The bytes the root `body` string of a captured form holds, a partial last quantum included
/// (none of it may leave either); `None` before the body's value starts.
fn decoded_body(text: &str) -> Option<Vec<u8>> {
    let lenient = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let after_key = &text[text.find("\"body\"")? + 6..];
    let value = after_key
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let mut b64: String = value
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    if b64.len() % 4 == 1 {
        b64.pop();
    }
    Some(
        lenient
            .decode(b64)
            .unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

#[test]
fn base64_bodies_are_decoded_and_redacted() {
    let multipart_redacted = String::from_utf8(MULTIPART.to_vec())
        .unwrap()
        .replace("hunter2", REDACTED);
    let payloads: [(&[u8], &[u8]); 3] = [
        (FORM_POST, b"user=bob&password=[REDACTED]&remember=1"),
        (TOKEN_JSON, br#"{"user":"bob","access_token":"[REDACTED]"}"#),
        (MULTIPART, multipart_redacted.as_bytes()),
    ];
    for (name, pointers) in HTTP_CREDENTIALS {
        for (payload, redacted_payload) in payloads {
            let event = with_base64_body(name, payload);
            let body = captured_body(
                &ParsedBody::new(&event, true),
                &RedactionRules::default(),
                NO_LIMIT,
            );
            assert_eq!(
                (body.encoding, body.truncated, body.redactions as usize),
                (BodyEncoding::Json, false, pointers.len() + 1),
                "{name}"
            );
            let mut redacted: Value = serde_json::from_str(&body.text).unwrap();
            let decoded = STANDARD.decode(redacted["body"].as_str().unwrap()).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&decoded),
                String::from_utf8_lossy(redacted_payload),
                "{name}"
            );
            // Everything else as for the plain fixture; the flag still says base64.
            let mut original: Value = serde_json::from_slice(&event).unwrap();
            assert_eq!(original["isBase64Encoded"], Value::Bool(true));
            original["body"] = Value::Null;
            redacted["body"] = Value::Null;
            assert_eq!(redacted, redacted_at(original, name, pointers), "{name}");
            assert_no_secret(name, &body.text);
        }
    }
}

#[test]
fn binary_base64_bodies_pass_through() {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend((0..=255u8).rev());
    for (name, pointers) in HTTP_CREDENTIALS {
        let event = with_base64_body(name, &png);
        let body = captured_body(
            &ParsedBody::new(&event, true),
            &RedactionRules::default(),
            NO_LIMIT,
        );
        assert_eq!(body.redactions as usize, pointers.len(), "{name}");
        let redacted: Value = serde_json::from_str(&body.text).unwrap();
        let original: Value = serde_json::from_slice(&event).unwrap();
        assert_eq!(redacted, redacted_at(original, name, pointers), "{name}");
    }
}

#[test]
fn every_cut_of_a_base64_body_is_redacted() {
    let rules = RedactionRules::default();
    for (name, _) in HTTP_CREDENTIALS {
        for (payload, secret) in [(FORM_POST, "password=h"), (TOKEN_JSON, "tok-")] {
            let event = with_base64_body(name, payload);
            // Cuts before the body are `every_truncated_head_is_still_redacted`'s.
            let body_at = body_key_at(&event);
            for cut in body_at..event.len() {
                let body = captured_body(&ParsedBody::new(&event[..cut], false), &rules, NO_LIMIT);
                assert_no_secret(&format!("{name}[..{cut}]"), &body.text);
                let decoded = decoded_body(&body.text).unwrap_or_default();
                let decoded = String::from_utf8_lossy(&decoded);
                assert!(!decoded.contains(secret), "{name}[..{cut}]: {decoded}");
            }
        }
    }
}

/// Where the `body` key starts.
fn body_key_at(event: &[u8]) -> usize {
    event
        .windows(6)
        .position(|w| w == b"\"body\"")
        .expect("a body")
}

#[test]
fn base64_responses_are_redacted() {
    let rules = RedactionRules::default();
    let response = format!(
        r#"{{"statusCode": 200, "headers": {{"Content-Type": "application/json"}}, "body": "{}", "isBase64Encoded": true}}"#,
        STANDARD.encode(TOKEN_JSON)
    );
    let body = captured_body(
        &ParsedBody::new(response.as_bytes(), true),
        &rules,
        NO_LIMIT,
    );
    assert_eq!((body.encoding, body.redactions), (BodyEncoding::Json, 1));
    assert_eq!(
        decoded_body(&body.text).unwrap(),
        br#"{"user":"bob","access_token":"[REDACTED]"}"#
    );
    for cut in 0..response.len() {
        let head = &response.as_bytes()[..cut];
        let body = captured_body(&ParsedBody::new(head, false), &rules, NO_LIMIT);
        let decoded = decoded_body(&body.text).unwrap_or_default();
        let decoded = String::from_utf8_lossy(&decoded);
        assert!(!decoded.contains("tok-"), "[..{cut}]: {decoded}");
    }
}

fn s(value: &str) -> AttrValue {
    AttrValue::Str(value.to_owned())
}

fn attributes(name: &str, cut: Option<usize>) -> EventAttributes {
    let raw = fixture(name);
    let head = &raw[..cut.unwrap_or(raw.len())];
    ParsedBody::new(head, cut.is_none()).attributes(&RedactionRules::default())
}

#[test]
fn http_event_attributes() {
    let cases = [
        (
            "apigw-rest",
            Some("GET /"),
            vec![
                ("http.request.method", s("GET")),
                ("http.route", s("/")),
                ("url.path", s("/")),
                ("url.scheme", s("https")),
                ("user_agent.original", s("curl/7.64.1")),
                ("client.address", s("205.255.255.176")),
                (
                    "server.address",
                    s("70ixmpl4fl.execute-api.us-east-2.amazonaws.com"),
                ),
                ("server.port", AttrValue::Int(443)),
                ("network.protocol.version", s("1.1")),
            ],
        ),
        (
            "apigw-http-v2",
            Some("POST"),
            vec![
                ("http.request.method", s("POST")),
                ("url.path", s("/my/path")),
                (
                    "url.query",
                    s("parameter1=value1&parameter1=value2&parameter2=value"),
                ),
                ("url.scheme", s("https")),
                ("user_agent.original", s("agent")),
                ("client.address", s("192.0.2.1")),
                ("server.address", s("id.execute-api.us-east-1.amazonaws.com")),
                ("network.protocol.version", s("1.1")),
            ],
        ),
        (
            "function-url",
            Some("POST"),
            vec![
                ("http.request.method", s("POST")),
                ("url.path", s("/my/path")),
                (
                    "url.query",
                    s("parameter1=value1&parameter1=value2&parameter2=value"),
                ),
                ("url.scheme", s("https")),
                ("user_agent.original", s("agent")),
                ("client.address", s("123.123.123.123")),
                ("server.address", s("<url-id>.lambda-url.us-west-2.on.aws")),
                ("network.protocol.version", s("1.1")),
            ],
        ),
        (
            "alb",
            Some("GET"),
            vec![
                ("http.request.method", s("GET")),
                ("url.path", s("/lambda")),
                ("url.query", s("query=1234ABCD")),
                ("url.scheme", s("http")),
                (
                    "user_agent.original",
                    s("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/71.0.3578.98 Safari/537.36"),
                ),
                ("client.address", s("72.12.164.125")),
                (
                    "server.address",
                    s("lambda-alb-123578498.us-east-1.elb.amazonaws.com"),
                ),
                ("server.port", AttrValue::Int(80)),
            ],
        ),
    ];
    for (name, span_name, expected) in cases {
        let attrs = attributes(name, None);
        assert_eq!(attrs.span_name.as_deref(), span_name, "{name}");
        assert_eq!(attrs.attributes, expected, "{name}");
    }
}

#[test]
fn messaging_and_datasource_event_attributes() {
    let cases = [
        (
            "sqs",
            vec![
                ("messaging.system", s("aws_sqs")),
                ("messaging.destination.name", s("my-queue")),
                ("messaging.operation.type", s("process")),
                ("messaging.batch.message_count", AttrValue::Int(2)),
            ],
        ),
        (
            "sns",
            vec![
                ("messaging.system", s("aws.sns")),
                ("messaging.destination.name", s("sns-lambda")),
                ("messaging.operation.type", s("process")),
                (
                    "aws.sns.topic.arn",
                    s("arn:aws:sns:us-east-1:123456789012:sns-lambda"),
                ),
                (
                    "messaging.message.id",
                    s("95df01b4-ee98-5cb9-9903-4c221d41eb5e"),
                ),
            ],
        ),
        (
            "kinesis",
            vec![
                ("messaging.system", s("aws.kinesis")),
                ("messaging.destination.name", s("lambda-stream")),
                ("messaging.operation.type", s("process")),
                ("aws.kinesis.stream_name", s("lambda-stream")),
                ("messaging.batch.message_count", AttrValue::Int(1)),
            ],
        ),
        (
            "eventbridge",
            vec![
                ("messaging.system", s("aws.eventbridge")),
                ("messaging.operation.type", s("process")),
                (
                    "messaging.message.id",
                    s("7bf73129-1428-4cd3-a780-95db273d1602"),
                ),
            ],
        ),
        (
            "s3",
            vec![
                ("aws.s3.bucket", s("example-bucket")),
                ("aws.s3.key", s("test/key")),
                ("faas.document.collection", s("example-bucket")),
                ("faas.document.operation", s("insert")),
                ("faas.document.time", s("1970-01-01T00:00:00.000Z")),
                ("faas.document.name", s("test/key")),
                ("lambda_lens.event.record_count", AttrValue::Int(1)),
            ],
        ),
        (
            "dynamodb",
            vec![
                (
                    "aws.dynamodb.table_names",
                    AttrValue::StrArray(vec!["ExampleTableWithStream".to_owned()]),
                ),
                ("faas.document.collection", s("ExampleTableWithStream")),
                ("faas.document.operation", s("insert")),
                ("lambda_lens.event.record_count", AttrValue::Int(1)),
            ],
        ),
        ("scheduled", vec![("faas.time", s("2019-03-01T01:23:45Z"))]),
    ];
    for (name, expected) in cases {
        let attrs = attributes(name, None);
        assert_eq!(attrs.span_name, None, "{name}");
        assert_eq!(attrs.attributes, expected, "{name}");
    }
}

#[test]
fn truncated_event_attributes_report_only_what_is_certain() {
    // 300 bytes: REST reaches `requestContext.domainName` but not `identity` or the headers.
    let rest = attributes("apigw-rest", Some(300));
    assert_eq!(rest.span_name.as_deref(), Some("GET /"));
    assert_eq!(
        rest.attributes,
        vec![
            ("http.request.method", s("GET")),
            ("http.route", s("/")),
            ("url.path", s("/")),
            ("url.scheme", s("https")),
            (
                "server.address",
                s("70ixmpl4fl.execute-api.us-east-2.amazonaws.com")
            ),
        ]
    );
    // v2: the method is in `requestContext`, past the cut.
    let v2 = attributes("apigw-http-v2", Some(300));
    assert_eq!(v2.span_name, None);
    assert_eq!(
        v2.attributes,
        vec![
            ("url.path", s("/my/path")),
            (
                "url.query",
                s("parameter1=value1&parameter1=value2&parameter2=value")
            ),
            ("url.scheme", s("https")),
        ]
    );
    // ALB: the scheme comes from X-Forwarded-Proto only, which is past the cut.
    let alb = attributes("alb", Some(300));
    assert!(alb.attributes.iter().all(|(k, _)| *k != "url.scheme"));
    // A batch count is never guessed from a partial array.
    let kinesis = attributes("kinesis", Some(700));
    assert!(kinesis
        .attributes
        .iter()
        .all(|(k, _)| *k != "messaging.batch.message_count"));
    // Every cut of every fixture: no panic.
    for name in FIXTURES {
        let raw = fixture(name);
        for cut in 0..raw.len() {
            ParsedBody::new(&raw[..cut], false).attributes(&RedactionRules::default());
            response_status(&ParsedBody::new(&raw[..cut], false));
        }
    }
}

#[test]
fn response_statuses() {
    assert_eq!(
        response_status(&ParsedBody::new(
            br#"{"statusCode": 302, "headers": {"Location": "/x"}}"#,
            true
        )),
        Some(302)
    );
    assert_eq!(response_status(&ParsedBody::new(br#""plain""#, true)), None);
}

/// Keys the generated documents use: secret ones (several spellings) and ordinary ones.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("password".to_owned()),
        Just("api_key".to_owned()),
        Just("X-Auth-Token".to_owned()),
        Just("clientSecret".to_owned()),
        Just("cookies".to_owned()),
        Just("name".to_owned()),
        Just("headers".to_owned()),
        "[a-zA-Z_-]{0,8}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
        Just(Value::from("4111 1111 1111 1111")),
        Just(Value::from("{\"password\":\"p\"}")),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Every leaf under a secret key is `[REDACTED]` (or `null`), and the shape is unchanged.
fn check(original: &Value, redacted: &Value, secret: bool, rules: &RedactionRules) {
    match (original, redacted) {
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
            for (key, value) in a {
                check(value, &b[key], secret || rules.key_matches(key), rules);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                check(x, y, secret, rules);
            }
        }
        (Value::Null, Value::Null) => {}
        (_, leaf) if secret => assert_eq!(leaf, &Value::from(REDACTED)),
        _ => {}
    }
}

/// Form fields: names as [`key`] makes them, values without separators.
fn form_fields() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((key(), "[a-zA-Z0-9._~-]{1,12}"), 1..6)
}

proptest! {
    #[test]
    fn nothing_under_a_secret_key_survives(value in json_value()) {
        let rules = RedactionRules::default();
        let input = value.to_string();
        let body = captured_body(&ParsedBody::new(input.as_bytes(), true), &rules, input.len() * 2 + 64);
        prop_assert!(!body.truncated);
        prop_assert_eq!(body.encoding, BodyEncoding::Json);
        let redacted: Value = serde_json::from_str(&body.text)
            .map_err(|e| TestCaseError::fail(format!("{e}: {}", body.text)))?;
        check(&value, &redacted, false, &rules);
    }

    #[test]
    fn no_form_field_under_a_secret_name_survives(fields in form_fields()) {
        let rules = RedactionRules::default();
        let form = fields
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("&");
        let event = with_base64_body("apigw-http-v2", form.as_bytes());
        let body = captured_body(&ParsedBody::new(&event, true), &rules, NO_LIMIT);
        let redacted: Value = serde_json::from_str(&body.text)
            .map_err(|e| TestCaseError::fail(format!("{e}: {}", body.text)))?;
        let decoded = STANDARD.decode(redacted["body"].as_str().unwrap_or_default())
            .map_err(|e| TestCaseError::fail(format!("{e}: {}", body.text)))?;
        let decoded = String::from_utf8(decoded).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let out: Vec<(&str, &str)> = decoded.split('&').filter_map(|f| f.split_once('=')).collect();
        prop_assert_eq!(out.len(), fields.len(), "{}", decoded);
        for ((name, value), (out_name, out_value)) in fields.iter().zip(out) {
            prop_assert_eq!(name.as_str(), out_name);
            if rules.key_matches(name) {
                prop_assert_eq!(out_value, REDACTED);
            } else {
                prop_assert_eq!(out_value, value.as_str());
            }
        }
    }
}
