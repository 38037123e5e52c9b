//! A log record (opentelemetry-proto's `LogRecord`, as the log pipeline builds it) written as
//! prost writes it, its length measured once, when it is queued: a batch's byte bound and the
//! request's length prefixes both use that figure.

use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::encoding::{fixed32, fixed64, int32, uint32};

use super::proto_any::{key_values_len, write_key_values, ProtoAny};
use super::{
    bytes_len, message_len, scalar_len, write_bytes, write_message, write_scalar, Message,
};

/// A queued log record and the length of its fields.
#[derive(Debug)]
pub(crate) struct MeasuredLog {
    record: LogRecord,
    len: usize,
}

impl MeasuredLog {
    /// `record`, measured.
    pub(crate) fn new(record: LogRecord) -> Self {
        let len = fields_len(&record);
        Self { record, len }
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
        let record = &self.record;
        write_scalar(1, &record.time_unix_nano, fixed64::encode, buf);
        write_scalar(2, &record.severity_number, int32::encode, buf);
        write_bytes(3, record.severity_text.as_bytes(), buf);
        if let Some(body) = &record.body {
            write_message(5, &ProtoAny(body), buf);
        }
        write_key_values(6, &record.attributes, buf);
        write_scalar(7, &record.dropped_attributes_count, uint32::encode, buf);
        write_scalar(8, &record.flags, fixed32::encode, buf);
        write_bytes(9, &record.trace_id, buf);
        write_bytes(10, &record.span_id, buf);
        write_scalar(11, &record.observed_time_unix_nano, fixed64::encode, buf);
        write_bytes(12, record.event_name.as_bytes(), buf);
    }
}

/// The length of `record`'s fields, in the order `write_body` writes them (tag order, as prost).
fn fields_len(record: &LogRecord) -> usize {
    scalar_len(1, &record.time_unix_nano, fixed64::encoded_len)
        + scalar_len(2, &record.severity_number, int32::encoded_len)
        + bytes_len(3, record.severity_text.as_bytes())
        + record
            .body
            .as_ref()
            .map_or(0, |body| message_len(5, &ProtoAny(body)))
        + key_values_len(6, &record.attributes)
        + scalar_len(7, &record.dropped_attributes_count, uint32::encoded_len)
        + scalar_len(8, &record.flags, fixed32::encoded_len)
        + bytes_len(9, &record.trace_id)
        + bytes_len(10, &record.span_id)
        + scalar_len(11, &record.observed_time_unix_nano, fixed64::encoded_len)
        + bytes_len(12, record.event_name.as_bytes())
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
    use prost::Message as _;

    use super::*;

    fn any(value: Value) -> AnyValue {
        AnyValue { value: Some(value) }
    }

    fn key_value(key: &str, value: Option<Value>) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: value.map(any),
            key_strindex: 0,
        }
    }

    /// Every field set, and every kind of value, defaults inside `oneof`s included.
    fn full_record() -> LogRecord {
        LogRecord {
            time_unix_nano: 1_700_000_000_123_456_789,
            observed_time_unix_nano: 1_700_000_000_223_456_789,
            severity_number: 17,
            severity_text: "ERROR".to_owned(),
            body: Some(any(Value::KvlistValue(KeyValueList {
                values: vec![
                    key_value("message", Some(Value::StringValue("boom ✗".to_owned()))),
                    key_value(
                        "nested",
                        Some(Value::ArrayValue(ArrayValue {
                            values: vec![
                                any(Value::IntValue(-3)),
                                any(Value::DoubleValue(0.5)),
                                any(Value::BoolValue(false)),
                                any(Value::StringValue(String::new())),
                                any(Value::BytesValue(vec![0, 1, 255])),
                                any(Value::StringValueStrindex(4)),
                                AnyValue { value: None },
                            ],
                        })),
                    ),
                ],
            }))),
            attributes: vec![
                key_value(
                    "log.iostream",
                    Some(Value::StringValue("stdout".to_owned())),
                ),
                key_value("count", Some(Value::IntValue(0))),
                key_value("unset", None),
                key_value("", Some(Value::BoolValue(true))),
                KeyValue {
                    key: "indexed".to_owned(),
                    value: Some(any(Value::StringValue("x".repeat(300)))),
                    key_strindex: 7,
                },
            ],
            dropped_attributes_count: 2,
            flags: 1,
            trace_id: vec![7; 16],
            span_id: vec![8; 8],
            event_name: "device.app.lifecycle".to_owned(),
        }
    }

    #[test]
    fn records_are_written_byte_for_byte_as_prost_writes_them() {
        let records = [
            full_record(),
            LogRecord::default(),
            LogRecord {
                body: Some(AnyValue { value: None }),
                ..LogRecord::default()
            },
            LogRecord {
                body: Some(any(Value::StringValue("x".repeat(20_000)))),
                ..LogRecord::default()
            },
        ];
        for record in records {
            let measured = MeasuredLog::new(record.clone());
            let mut written = Vec::new();
            measured.write_body(&mut written);
            assert_eq!(written, record.encode_to_vec(), "{record:?}");
            assert_eq!(measured.encoded_len(), record.encoded_len());
        }
    }
}
