//! The captured data model: what one received span and one received export request look like
//! once decoded, and the conversion from the OTLP protobuf types into it.
//!
//! Everything here is plain data (serde-serializable, comparable) so tests can assert on it
//! and the JSON-lines output can write it unchanged.
//!
//! `AnyValue` is mapped to JSON as follows: strings, booleans and arrays map directly; integers
//! become JSON integers (`i64`); finite doubles become JSON numbers, while NaN and infinities
//! become the strings `"NaN"`, `"inf"` and `"-inf"` (JSON has no such numbers); key-value lists
//! become objects; bytes become standard base64 strings (as in OTLP/JSON); an empty value
//! (or a profiles-only string-table reference) becomes `null`. Trace and span ids are lowercase hex.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, status, Span};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The role of a span, as in OTLP's `Span.SpanKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    /// `SPAN_KIND_UNSPECIFIED`, or a value this version does not know.
    Unspecified,
    /// `SPAN_KIND_INTERNAL`.
    Internal,
    /// `SPAN_KIND_SERVER`.
    Server,
    /// `SPAN_KIND_CLIENT`.
    Client,
    /// `SPAN_KIND_PRODUCER`.
    Producer,
    /// `SPAN_KIND_CONSUMER`.
    Consumer,
}

impl SpanKind {
    fn from_proto(kind: i32) -> Self {
        match span::SpanKind::try_from(kind) {
            Ok(span::SpanKind::Internal) => Self::Internal,
            Ok(span::SpanKind::Server) => Self::Server,
            Ok(span::SpanKind::Client) => Self::Client,
            Ok(span::SpanKind::Producer) => Self::Producer,
            Ok(span::SpanKind::Consumer) => Self::Consumer,
            Ok(span::SpanKind::Unspecified) | Err(_) => Self::Unspecified,
        }
    }
}

/// The status of a span, as in OTLP's `Status.StatusCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCode {
    /// No status was set (also used for values this version does not know).
    Unset,
    /// The operation succeeded.
    Ok,
    /// The operation failed.
    Error,
}

impl StatusCode {
    fn from_proto(code: i32) -> Self {
        match status::StatusCode::try_from(code) {
            Ok(status::StatusCode::Ok) => Self::Ok,
            Ok(status::StatusCode::Error) => Self::Error,
            Ok(status::StatusCode::Unset) | Err(_) => Self::Unset,
        }
    }
}

/// A timestamped event recorded on a span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    /// The event name, e.g. `exception`.
    pub name: String,
    /// When the event happened, in nanoseconds since the Unix epoch.
    pub time_unix_nanos: u64,
    /// The event's attributes, converted as described in the module docs.
    pub attributes: BTreeMap<String, Value>,
}

/// A link from a span to another span, possibly in another trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanLink {
    /// The linked trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// The linked span id, 16 lowercase hex digits.
    pub span_id: String,
    /// The link's attributes.
    pub attributes: BTreeMap<String, Value>,
    /// The linked span's W3C trace flags (bit 0: sampled) and OTLP flag bits, as sent.
    pub flags: u32,
    /// The linked span's W3C `tracestate`, as sent (empty when none).
    pub trace_state: String,
}

/// One span as received, flattened together with its resource and instrumentation scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedSpan {
    /// The attributes of the resource that produced the span (e.g. `service.name`).
    pub resource: BTreeMap<String, Value>,
    /// The instrumentation scope name (empty when the exporter sent none).
    pub scope_name: String,
    /// The trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// The span id, 16 lowercase hex digits.
    pub span_id: String,
    /// The parent span id, or `None` for a root span.
    pub parent_span_id: Option<String>,
    /// The span name.
    pub name: String,
    /// The span kind.
    pub kind: SpanKind,
    /// Start time, in nanoseconds since the Unix epoch.
    pub start_unix_nanos: u64,
    /// End time, in nanoseconds since the Unix epoch.
    pub end_unix_nanos: u64,
    /// The status code.
    pub status_code: StatusCode,
    /// The status message (usually only set with [`StatusCode::Error`]).
    pub status_message: String,
    /// The span's attributes.
    pub attributes: BTreeMap<String, Value>,
    /// The span's events, in the order they were sent.
    pub events: Vec<SpanEvent>,
    /// The span's links, in the order they were sent.
    pub links: Vec<SpanLink>,
    /// The W3C trace flags and OTLP span flags (`Span.flags`).
    pub flags: u32,
}

/// OTLP `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`: the sender said whether the parent is remote.
const FLAGS_HAS_IS_REMOTE: u32 = 0x100;
/// OTLP `SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`: the parent is remote (another process's span).
const FLAGS_IS_REMOTE: u32 = 0x200;

impl ReceivedSpan {
    /// Whether the sender marked the span's parent as remote: a span of another service, which a
    /// receiver of this service's spans is not expected to hold.
    pub fn parent_is_remote(&self) -> bool {
        self.flags & (FLAGS_HAS_IS_REMOTE | FLAGS_IS_REMOTE)
            == FLAGS_HAS_IS_REMOTE | FLAGS_IS_REMOTE
    }

    /// The span's duration in nanoseconds (zero if the end precedes the start).
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nanos.saturating_sub(self.start_unix_nanos)
    }
}

/// Flattens an export request into one [`ReceivedSpan`] per span, in the order they were sent.
pub fn spans_from_request(request: &ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut spans = Vec::new();
    for resource_spans in &request.resource_spans {
        let resource = resource_spans
            .resource
            .as_ref()
            .map(|resource| attributes_to_json(&resource.attributes))
            .unwrap_or_default();
        for scope_spans in &resource_spans.scope_spans {
            let scope_name = scope_spans
                .scope
                .as_ref()
                .map(|scope| scope.name.clone())
                .unwrap_or_default();
            spans.extend(
                scope_spans
                    .spans
                    .iter()
                    .map(|span| convert_span(span, &resource, &scope_name)),
            );
        }
    }
    spans
}

fn convert_span(span: &Span, resource: &BTreeMap<String, Value>, scope_name: &str) -> ReceivedSpan {
    let status = span.status.clone().unwrap_or_default();
    ReceivedSpan {
        resource: resource.clone(),
        scope_name: scope_name.to_owned(),
        trace_id: hex(&span.trace_id),
        span_id: hex(&span.span_id),
        // OTLP marks a root span with an empty parent id; some senders use all zeros.
        parent_span_id: (!span.parent_span_id.iter().all(|byte| *byte == 0))
            .then(|| hex(&span.parent_span_id)),
        name: span.name.clone(),
        kind: SpanKind::from_proto(span.kind),
        start_unix_nanos: span.start_time_unix_nano,
        end_unix_nanos: span.end_time_unix_nano,
        status_code: StatusCode::from_proto(status.code),
        status_message: status.message,
        attributes: attributes_to_json(&span.attributes),
        events: span
            .events
            .iter()
            .map(|event| SpanEvent {
                name: event.name.clone(),
                time_unix_nanos: event.time_unix_nano,
                attributes: attributes_to_json(&event.attributes),
            })
            .collect(),
        links: span
            .links
            .iter()
            .map(|link| SpanLink {
                trace_id: hex(&link.trace_id),
                span_id: hex(&link.span_id),
                attributes: attributes_to_json(&link.attributes),
                flags: link.flags,
                trace_state: link.trace_state.clone(),
            })
            .collect(),
        flags: span.flags,
    }
}

/// Converts OTLP key-values to a sorted JSON map; a repeated key keeps its last value.
pub fn attributes_to_json(attributes: &[KeyValue]) -> BTreeMap<String, Value> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), any_value_to_json(kv.value.as_ref())))
        .collect()
}

/// Converts one OTLP `AnyValue` to JSON as described in the module docs.
pub fn any_value_to_json(value: Option<&AnyValue>) -> Value {
    let Some(value) = value.and_then(|value| value.value.as_ref()) else {
        return Value::Null;
    };
    match value {
        any_value::Value::StringValue(text) => Value::String(text.clone()),
        any_value::Value::BoolValue(flag) => Value::Bool(*flag),
        any_value::Value::IntValue(number) => Value::from(*number),
        any_value::Value::DoubleValue(number) => serde_json::Number::from_f64(*number)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(non_finite_name(*number).to_owned())),
        any_value::Value::ArrayValue(array) => Value::Array(
            array
                .values
                .iter()
                .map(|item| any_value_to_json(Some(item)))
                .collect(),
        ),
        any_value::Value::KvlistValue(list) => Value::Object(
            list.values
                .iter()
                .map(|kv| (kv.key.clone(), any_value_to_json(kv.value.as_ref())))
                .collect(),
        ),
        any_value::Value::BytesValue(bytes) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        // Only meaningful for profiles; the spec says to treat it as an absent value.
        any_value::Value::StringValueStrindex(_) => Value::Null,
    }
}

fn non_finite_name(number: f64) -> &'static str {
    if number.is_nan() {
        "NaN"
    } else if number.is_sign_positive() {
        "inf"
    } else {
        "-inf"
    }
}

/// Lowercase hex encoding of an id.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, byte| {
        write!(out, "{byte:02x}").expect("writing to a String cannot fail");
        out
    })
}

/// Which OTLP transport a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// OTLP/HTTP (protobuf or JSON body).
    Http,
    /// OTLP/gRPC.
    Grpc,
}

/// What the receiver answered to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestOutcome {
    /// Decoded and stored; answered 200 / gRPC OK.
    Accepted,
    /// Refused by [`Mode::Refuse`](crate::Mode::Refuse) (answered 503 / gRPC `UNAVAILABLE`) or
    /// [`Mode::Throttle`](crate::Mode::Throttle) (429 / `RESOURCE_EXHAUSTED`).
    Refused,
    /// Could not be decoded, was not an export, or [`Mode::Reject`](crate::Mode::Reject) was on;
    /// answered with a 4xx status.
    Rejected {
        /// Why the request was rejected.
        reason: String,
    },
}

/// Metadata about one export request the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInfo {
    /// The transport it arrived on.
    pub transport: Transport,
    /// The request path (for gRPC, the method path).
    pub path: String,
    /// The `content-type` header, if any.
    pub content_type: Option<String>,
    /// The `content-encoding` header (HTTP) or `grpc-encoding` (gRPC), if any.
    pub content_encoding: Option<String>,
    /// All request headers (gRPC: the ASCII metadata), lowercase names; repeated headers are
    /// joined with `", "`.
    pub headers: BTreeMap<String, String>,
    /// When the request arrived, in nanoseconds since the Unix epoch.
    pub arrival_unix_nanos: u64,
    /// How many spans the request carried (zero unless it was decoded).
    pub span_count: usize,
    /// What the receiver answered.
    pub outcome: RequestOutcome,
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    use super::*;

    fn any(value: any_value::Value) -> AnyValue {
        AnyValue { value: Some(value) }
    }

    #[test]
    fn any_value_mapping_covers_every_variant() {
        let nested = KeyValueList {
            values: vec![KeyValue {
                key: "k".into(),
                value: Some(any(any_value::Value::IntValue(-3))),
                ..KeyValue::default()
            }],
        };
        let array = ArrayValue {
            values: vec![
                any(any_value::Value::BoolValue(true)),
                any(any_value::Value::DoubleValue(1.5)),
            ],
        };
        let cases = [
            (any(any_value::Value::StringValue("s".into())), "\"s\""),
            (
                any(any_value::Value::IntValue(i64::MIN)),
                "-9223372036854775808",
            ),
            (any(any_value::Value::DoubleValue(f64::NAN)), "\"NaN\""),
            (
                any(any_value::Value::DoubleValue(f64::NEG_INFINITY)),
                "\"-inf\"",
            ),
            (any(any_value::Value::ArrayValue(array)), "[true,1.5]"),
            (any(any_value::Value::KvlistValue(nested)), "{\"k\":-3}"),
            (any(any_value::Value::BytesValue(vec![0, 255])), "\"AP8=\""),
            (AnyValue { value: None }, "null"),
        ];
        for (value, expected) in cases {
            assert_eq!(any_value_to_json(Some(&value)).to_string(), expected);
        }
    }

    #[test]
    fn zero_and_empty_parent_ids_mean_root() {
        for parent in [vec![], vec![0; 8]] {
            let span = Span {
                trace_id: vec![0xab; 16],
                span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
                parent_span_id: parent,
                ..Span::default()
            };
            let converted = convert_span(&span, &BTreeMap::new(), "");
            assert_eq!(converted.parent_span_id, None);
            assert_eq!(converted.trace_id, "ab".repeat(16));
            assert_eq!(converted.span_id, "0102030405060708");
        }
    }
}
