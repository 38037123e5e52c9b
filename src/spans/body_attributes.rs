//! Captured bodies as span attributes: the event, the response or the `/error` body, each redacted
//! first, then cut to the capture limit, with its encoding, whether it was cut and how many values
//! were redacted ([`CaptureSettings`] says whether and how much).

use opentelemetry::KeyValue;

use super::names::lens;
use crate::event::ParsedBody;
use crate::record::ResultKind;
use crate::redact::{self, BodyEncoding, RedactionRules};
use crate::settings::{BodySettings, RedactionSettings};

/// How bodies appear on invocation spans (`LAMBDA_LENS_CAPTURE_BODIES`, the redaction variables and
/// `LAMBDA_LENS_CAPTURE_BYTES`).
#[derive(Debug, Clone)]
pub struct CaptureSettings {
    /// Record event, response and error bodies as span attributes.
    pub enabled: bool,
    /// Bytes kept per body after redaction.
    pub limit: usize,
    /// What is redacted before anything leaves the process.
    pub rules: RedactionRules,
}

impl CaptureSettings {
    /// Bodies as `bodies` says, redacted as `redaction` says.
    pub fn new(bodies: &BodySettings, redaction: &RedactionSettings) -> Self {
        Self {
            enabled: bodies.on_spans,
            limit: bodies.capture_bytes,
            rules: RedactionRules::new(redaction),
        }
    }
}

/// Attribute names of one captured body.
struct BodyKeys {
    body: &'static str,
    truncated: &'static str,
    encoding: &'static str,
    redactions: &'static str,
}

const EVENT_KEYS: BodyKeys = BodyKeys {
    body: lens::EVENT_BODY,
    truncated: lens::EVENT_TRUNCATED,
    encoding: lens::EVENT_ENCODING,
    redactions: lens::EVENT_REDACTIONS,
};
const RESPONSE_KEYS: BodyKeys = BodyKeys {
    body: lens::RESPONSE_BODY,
    truncated: lens::RESPONSE_TRUNCATED,
    encoding: lens::RESPONSE_ENCODING,
    redactions: lens::RESPONSE_REDACTIONS,
};
const ERROR_KEYS: BodyKeys = BodyKeys {
    body: lens::ERROR_BODY,
    truncated: lens::ERROR_TRUNCATED,
    encoding: lens::ERROR_ENCODING,
    redactions: lens::ERROR_REDACTIONS,
};

/// Adds the event's attributes, when bodies are captured.
pub(super) fn push_event(
    attributes: &mut Vec<KeyValue>,
    event: &ParsedBody<'_>,
    settings: &CaptureSettings,
) {
    push(attributes, &EVENT_KEYS, event, settings);
}

/// Adds the response's or the error's attributes, when bodies are captured.
pub(super) fn push_result(
    attributes: &mut Vec<KeyValue>,
    kind: ResultKind,
    body: &ParsedBody<'_>,
    settings: &CaptureSettings,
) {
    let keys = match kind {
        ResultKind::Response => &RESPONSE_KEYS,
        ResultKind::Error | ResultKind::InitError => &ERROR_KEYS,
    };
    push(attributes, keys, body, settings);
}

/// A body as attributes: redacted first, then cut to the limit (see [`redact::captured_body`]).
fn push(
    attributes: &mut Vec<KeyValue>,
    keys: &BodyKeys,
    body: &ParsedBody<'_>,
    settings: &CaptureSettings,
) {
    if !settings.enabled {
        return;
    }
    let captured = redact::captured_body(body, &settings.rules, settings.limit);
    let encoding = match captured.encoding {
        BodyEncoding::Json => "json",
        BodyEncoding::Text => "text",
        BodyEncoding::Base64 => "base64",
    };
    attributes.push(KeyValue::new(keys.body, captured.text));
    attributes.push(KeyValue::new(keys.truncated, captured.truncated));
    attributes.push(KeyValue::new(keys.encoding, encoding));
    if captured.redactions > 0 {
        attributes.push(KeyValue::new(
            keys.redactions,
            i64::from(captured.redactions),
        ));
    }
}
