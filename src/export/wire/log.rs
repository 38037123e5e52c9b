//! A log record as lambda-lens builds it (a function's line, the platform's report) and how it is
//! written as an OTLP `LogRecord`, straight from its own fields: attribute names are the static
//! names of [`crate::logs::names`], short values are borrowed or shared, so a record costs a few
//! allocations instead of one per string of opentelemetry-proto's owned message. Its length is
//! measured once, when it is queued: a batch's byte bound and the request's length prefixes both
//! use that figure.

use std::borrow::Cow;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use prost::encoding::{fixed32, fixed64, int32};

use super::attributes::{key_value_field_len, write_key_value, Any};
use super::{
    bytes_len, framed_len, scalar, scalar_len, write_bytes, write_delimited, write_framed,
    write_scalar, Message,
};
use crate::record::RequestId;

/// The trace flags' sampled bit, as a log record's `flags` carry it.
const SAMPLED_FLAG: u32 = 0x01;

/// A log record lambda-lens exports, field for field what OTLP's `LogRecord` carries of it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// When the platform captured it (`time_unix_nano`; 0 when unknown).
    pub time_unix_nano: u64,
    /// When lambda-lens observed it (`observed_time_unix_nano`).
    pub observed_time_unix_nano: u64,
    /// `severity_number` (unspecified when no severity is known).
    pub severity: SeverityNumber,
    /// `severity_text`, as the line or the platform spelled it (empty when unknown).
    pub severity_text: Cow<'static, str>,
    /// The body, always sent as a string value (even when empty).
    pub body: String,
    /// The attributes, in the order they are sent.
    pub attributes: Vec<LogAttribute>,
    /// The invocation's trace it belongs to, if any.
    pub trace: Option<TraceIds>,
}

/// The trace and span a log record belongs to, and whether its trace is sampled (`flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIds {
    /// `trace_id`.
    pub trace_id: TraceId,
    /// `span_id`.
    pub span_id: SpanId,
    /// Sets the sampled bit of `flags`.
    pub sampled: bool,
}

/// One attribute of a log record: a static name and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct LogAttribute {
    /// The attribute's name.
    pub key: &'static str,
    /// Its value.
    pub value: LogValue,
}

/// A log record attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum LogValue {
    /// A string.
    Text(Cow<'static, str>),
    /// A request id, sent as a string (shared with the invocation, not copied).
    RequestId(RequestId),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Double(f64),
}

impl LogAttribute {
    /// `key` with a string value.
    pub fn text(key: &'static str, value: impl Into<Cow<'static, str>>) -> Self {
        Self {
            key,
            value: LogValue::Text(value.into()),
        }
    }

    /// `key` with an integer value.
    pub fn int(key: &'static str, value: i64) -> Self {
        Self {
            key,
            value: LogValue::Int(value),
        }
    }

    /// `key` with a floating-point value.
    pub fn double(key: &'static str, value: f64) -> Self {
        Self {
            key,
            value: LogValue::Double(value),
        }
    }

    #[inline]
    fn any(&self) -> Any<'_> {
        match &self.value {
            LogValue::Text(text) => Any::Text(text),
            LogValue::RequestId(id) => Any::Text(id.as_str()),
            LogValue::Int(value) => Any::Int(*value),
            LogValue::Double(value) => Any::Double(*value),
        }
    }
}

impl TraceIds {
    /// `flags`: the sampled bit.
    fn flags(&self) -> u32 {
        if self.sampled {
            SAMPLED_FLAG
        } else {
            0
        }
    }
}

/// A queued log record and the length of its fields.
#[derive(Debug)]
pub(crate) struct MeasuredLog {
    entry: LogEntry,
    len: usize,
}

impl MeasuredLog {
    /// `entry`, measured.
    pub(crate) fn new(entry: LogEntry) -> Self {
        let len = fields_len(&entry);
        Self { entry, len }
    }

    /// The length of its fields (without its own field key and length prefix).
    pub(crate) fn encoded_len(&self) -> usize {
        self.len
    }
}

impl Message for MeasuredLog {
    fn body_len(&self) -> usize {
        self.len
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        let entry = &self.entry;
        write_scalar(1, &entry.time_unix_nano, scalar::fixed64, buf);
        write_scalar(2, &(entry.severity as i32), scalar::int32, buf);
        write_bytes(3, entry.severity_text.as_bytes(), buf);
        // `body` is an `AnyValue` whose `string_value` (field 1, a `oneof`) is always written.
        write_framed(5, framed_len(1, entry.body.len()), buf);
        write_delimited(1, entry.body.as_bytes(), buf);
        for attribute in &entry.attributes {
            write_key_value(6, attribute.key, &attribute.any(), buf);
        }
        if let Some(trace) = &entry.trace {
            write_scalar(8, &trace.flags(), scalar::fixed32, buf);
            write_bytes(9, &trace.trace_id.to_bytes(), buf);
            write_bytes(10, &trace.span_id.to_bytes(), buf);
        }
        write_scalar(11, &entry.observed_time_unix_nano, scalar::fixed64, buf);
    }
}

/// The length of `entry`'s fields, in the order `write_body` writes them (tag order, as prost).
fn fields_len(entry: &LogEntry) -> usize {
    let trace_len = entry.trace.as_ref().map_or(0, |trace| {
        scalar_len(8, &trace.flags(), fixed32::encoded_len)
            + bytes_len(9, &trace.trace_id.to_bytes())
            + bytes_len(10, &trace.span_id.to_bytes())
    });
    scalar_len(1, &entry.time_unix_nano, fixed64::encoded_len)
        + scalar_len(2, &(entry.severity as i32), int32::encoded_len)
        + bytes_len(3, entry.severity_text.as_bytes())
        + framed_len(5, framed_len(1, entry.body.len()))
        + entry
            .attributes
            .iter()
            .map(|attribute| key_value_field_len(6, attribute.key, &attribute.any()))
            .sum::<usize>()
        + trace_len
        + scalar_len(11, &entry.observed_time_unix_nano, fixed64::encoded_len)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::LogRecord;
    use prost::Message as _;

    use super::*;

    /// `entry` as it goes out, decoded with opentelemetry-proto's types.
    fn decoded(entry: &LogEntry) -> LogRecord {
        let mut written = Vec::new();
        MeasuredLog::new(entry.clone()).write_body(&mut written);
        LogRecord::decode(written.as_slice()).expect("a valid LogRecord")
    }

    fn string(value: &str) -> Option<AnyValue> {
        Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        })
    }

    fn key_value(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            key_strindex: 0,
        }
    }

    /// Every field set, every kind of value, defaults (empty, zero) among them.
    fn full_entry() -> (LogEntry, LogRecord) {
        let entry = LogEntry {
            time_unix_nano: 1_700_000_000_123_456_789,
            observed_time_unix_nano: 1_700_000_000_223_456_789,
            severity: SeverityNumber::Error,
            severity_text: Cow::Borrowed("ERROR"),
            body: "boom ✗".to_owned(),
            attributes: vec![
                LogAttribute::text("lambda_lens.log.source", "function"),
                LogAttribute::text("empty", String::new()),
                LogAttribute::int("count", 0),
                LogAttribute::int("negative", -3),
                LogAttribute::double("zero", 0.0),
                LogAttribute::double("ms", 12.5),
                LogAttribute {
                    key: "faas.invocation_id",
                    value: LogValue::RequestId(RequestId::new("req-1")),
                },
                LogAttribute::text("long", "x".repeat(300)),
            ],
            trace: Some(TraceIds {
                trace_id: TraceId::from_bytes([7; 16]),
                span_id: SpanId::from_bytes([8; 8]),
                sampled: true,
            }),
        };
        let record = LogRecord {
            time_unix_nano: 1_700_000_000_123_456_789,
            observed_time_unix_nano: 1_700_000_000_223_456_789,
            severity_number: SeverityNumber::Error as i32,
            severity_text: "ERROR".to_owned(),
            body: string("boom ✗"),
            attributes: vec![
                key_value(
                    "lambda_lens.log.source",
                    Value::StringValue("function".to_owned()),
                ),
                key_value("empty", Value::StringValue(String::new())),
                key_value("count", Value::IntValue(0)),
                key_value("negative", Value::IntValue(-3)),
                key_value("zero", Value::DoubleValue(0.0)),
                key_value("ms", Value::DoubleValue(12.5)),
                key_value("faas.invocation_id", Value::StringValue("req-1".to_owned())),
                key_value("long", Value::StringValue("x".repeat(300))),
            ],
            flags: 1,
            trace_id: vec![7; 16],
            span_id: vec![8; 8],
            ..LogRecord::default()
        };
        (entry, record)
    }

    /// Nothing but an empty body: no severity, no ids, no times.
    fn bare_entry() -> (LogEntry, LogRecord) {
        let entry = LogEntry {
            time_unix_nano: 0,
            observed_time_unix_nano: 0,
            severity: SeverityNumber::Unspecified,
            severity_text: Cow::Borrowed(""),
            body: String::new(),
            attributes: Vec::new(),
            trace: None,
        };
        let record = LogRecord {
            body: string(""),
            ..LogRecord::default()
        };
        (entry, record)
    }

    #[test]
    fn entries_are_written_byte_for_byte_as_prost_writes_the_owned_record() {
        let (full, full_record) = full_entry();
        let (bare, bare_record) = bare_entry();
        let unsampled = LogEntry {
            trace: Some(TraceIds {
                sampled: false,
                ..full.trace.expect("set")
            }),
            body: "y".repeat(20_000),
            ..full.clone()
        };
        let unsampled_record = LogRecord {
            flags: 0,
            body: string(&"y".repeat(20_000)),
            ..full_record.clone()
        };
        for (entry, record) in [
            (full, full_record),
            (bare, bare_record),
            (unsampled, unsampled_record),
        ] {
            let measured = MeasuredLog::new(entry.clone());
            let mut written = Vec::new();
            measured.write_body(&mut written);
            assert_eq!(written, record.encode_to_vec(), "{entry:?}");
            assert_eq!(measured.encoded_len(), record.encoded_len());
            assert_eq!(decoded(&entry), record);
        }
    }
}
