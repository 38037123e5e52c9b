//! opentelemetry-proto's own attribute types (`KeyValue`, `AnyValue`, `ArrayValue`,
//! `KeyValueList`) written field by field, as prost encodes them: a `oneof` value is written
//! even when it holds a default, a `KeyValue`'s value whenever it is set.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use prost::encoding::{bool as boolean, bytes, double, int32, int64, string};

use super::{
    bytes_len, framed_len, message_len, scalar_len, write_bytes, write_framed, write_message,
    write_scalar, Message,
};

/// Attributes as a repeated `KeyValue` field `tag`: their length.
pub(super) fn key_values_len(tag: u32, attributes: &[KeyValue]) -> usize {
    attributes
        .iter()
        .map(|attribute| framed_len(tag, ProtoKeyValue::of(attribute).body_len()))
        .sum()
}

/// Writes attributes as a repeated `KeyValue` field `tag`.
pub(super) fn write_key_values(tag: u32, attributes: &[KeyValue], buf: &mut Vec<u8>) {
    for attribute in attributes {
        let attribute = ProtoKeyValue::of(attribute);
        write_framed(tag, attribute.body_len(), buf);
        attribute.write_body(buf);
    }
}

/// A `KeyValue`, its value measured once for both length prefixes (the attribute's and its own).
struct ProtoKeyValue<'a> {
    attribute: &'a KeyValue,
    /// The value and the length of its fields, when set.
    value: Option<(ProtoAny<'a>, usize)>,
}

impl<'a> ProtoKeyValue<'a> {
    fn of(attribute: &'a KeyValue) -> Self {
        let value = attribute.value.as_ref().map(|value| {
            let value = ProtoAny(value);
            let len = value.body_len();
            (value, len)
        });
        Self { attribute, value }
    }

    fn body_len(&self) -> usize {
        let attribute = self.attribute;
        bytes_len(1, attribute.key.as_bytes())
            + self
                .value
                .as_ref()
                .map_or(0, |(_, len)| framed_len(2, *len))
            + scalar_len(3, &attribute.key_strindex, int32::encoded_len)
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        let attribute = self.attribute;
        write_bytes(1, attribute.key.as_bytes(), buf);
        if let Some((value, len)) = &self.value {
            write_framed(2, *len, buf);
            value.write_body(buf);
        }
        write_scalar(3, &attribute.key_strindex, int32::encode, buf);
    }
}

/// An `AnyValue`: its `oneof`, if set.
pub(super) struct ProtoAny<'a>(pub(super) &'a AnyValue);

impl Message for ProtoAny<'_> {
    fn body_len(&self) -> usize {
        match &self.0.value {
            None => 0,
            Some(Value::StringValue(text)) => string::encoded_len(1, text),
            Some(Value::BoolValue(value)) => boolean::encoded_len(2, value),
            Some(Value::IntValue(value)) => int64::encoded_len(3, value),
            Some(Value::DoubleValue(value)) => double::encoded_len(4, value),
            Some(Value::ArrayValue(array)) => message_len(5, &Elements(&array.values)),
            Some(Value::KvlistValue(list)) => message_len(6, &Entries(&list.values)),
            Some(Value::BytesValue(value)) => bytes::encoded_len(7, value),
            Some(Value::StringValueStrindex(index)) => int32::encoded_len(8, index),
        }
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        match &self.0.value {
            None => {}
            Some(Value::StringValue(text)) => string::encode(1, text, buf),
            Some(Value::BoolValue(value)) => boolean::encode(2, value, buf),
            Some(Value::IntValue(value)) => int64::encode(3, value, buf),
            Some(Value::DoubleValue(value)) => double::encode(4, value, buf),
            Some(Value::ArrayValue(array)) => write_message(5, &Elements(&array.values), buf),
            Some(Value::KvlistValue(list)) => write_message(6, &Entries(&list.values), buf),
            Some(Value::BytesValue(value)) => bytes::encode(7, value, buf),
            Some(Value::StringValueStrindex(index)) => int32::encode(8, index, buf),
        }
    }
}

/// An `ArrayValue`: its elements (field 1).
struct Elements<'a>(&'a [AnyValue]);

impl Message for Elements<'_> {
    fn body_len(&self) -> usize {
        self.0
            .iter()
            .map(|element| message_len(1, &ProtoAny(element)))
            .sum()
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        for element in self.0 {
            write_message(1, &ProtoAny(element), buf);
        }
    }
}

/// A `KeyValueList`: its entries (field 1).
struct Entries<'a>(&'a [KeyValue]);

impl Message for Entries<'_> {
    fn body_len(&self) -> usize {
        key_values_len(1, self.0)
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        write_key_values(1, self.0, buf);
    }
}
