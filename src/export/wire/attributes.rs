//! Attributes (`KeyValue`, `AnyValue`, `ArrayValue`) and instrumentation scopes written from the
//! OpenTelemetry API types, as opentelemetry-proto's conversions would build them.

use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::common::v1::AnyValue;
use prost::encoding::{bool as boolean, double, int64};

use super::{
    bytes_len, framed_len, message_len, scalar, write_bytes, write_delimited, write_framed,
    write_message, Message,
};

/// Attributes as a repeated `KeyValue` field `tag`: their length.
pub(super) fn attributes_len<'a>(
    tag: u32,
    attributes: impl IntoIterator<Item = &'a KeyValue>,
) -> usize {
    attributes
        .into_iter()
        .map(|attribute| {
            key_value_field_len(tag, attribute.key.as_str(), &Any::of(&attribute.value))
        })
        .sum()
}

/// Writes attributes as a repeated `KeyValue` field `tag`.
pub(super) fn write_attributes<'a>(
    tag: u32,
    attributes: impl IntoIterator<Item = &'a KeyValue>,
    buf: &mut Vec<u8>,
) {
    for attribute in attributes {
        write_key_value(tag, attribute.key.as_str(), &Any::of(&attribute.value), buf);
    }
}

/// The bytes one `KeyValue` takes as field `tag`.
#[inline]
pub(super) fn key_value_field_len(tag: u32, key: &str, value: &Any<'_>) -> usize {
    framed_len(tag, key_value_len(key.as_bytes(), value.body_len()))
}

/// Writes one `KeyValue` as field `tag`: its key, and its value, always set.
#[inline]
pub(super) fn write_key_value(tag: u32, key: &str, value: &Any<'_>, buf: &mut Vec<u8>) {
    // The value measured once for both length prefixes (the attribute's and its own).
    let key = key.as_bytes();
    let value_len = value.body_len();
    write_framed(tag, key_value_len(key, value_len), buf);
    write_bytes(1, key, buf);
    write_framed(2, value_len, buf);
    value.write_body(buf);
}

/// The length of a `KeyValue`'s fields: `key`, and a value whose fields take `value_len` bytes.
#[inline]
fn key_value_len(key: &[u8], value_len: usize) -> usize {
    bytes_len(1, key) + framed_len(2, value_len)
}

/// An `AnyValue`: its `oneof`, written even when it holds a default.
pub(super) enum Any<'a> {
    Bool(bool),
    Int(i64),
    Double(f64),
    Text(&'a str),
    Array(Elements<'a>),
    /// A kind added to the API after this was written: opentelemetry-proto's own conversion,
    /// written by prost.
    Other(AnyValue),
}

impl<'a> Any<'a> {
    #[inline]
    fn of(value: &'a Value) -> Self {
        match value {
            Value::Bool(value) => Self::Bool(*value),
            Value::I64(value) => Self::Int(*value),
            Value::F64(value) => Self::Double(*value),
            Value::String(value) => Self::Text(value.as_str()),
            Value::Array(array) => match Elements::of(array) {
                Some(elements) => Self::Array(elements),
                None => Self::Other(AnyValue::from(value.clone())),
            },
            other => Self::Other(AnyValue::from(other.clone())),
        }
    }
}

impl Message for Any<'_> {
    #[inline]
    fn body_len(&self) -> usize {
        match self {
            Self::Bool(value) => boolean::encoded_len(2, value),
            Self::Int(value) => int64::encoded_len(3, value),
            Self::Double(value) => double::encoded_len(4, value),
            Self::Text(text) => framed_len(1, text.len()),
            Self::Array(elements) => message_len(5, elements),
            Self::Other(value) => prost::Message::encoded_len(value),
        }
    }

    #[inline]
    fn write_body(&self, buf: &mut Vec<u8>) {
        match self {
            Self::Bool(value) => scalar::boolean(2, value, buf),
            Self::Int(value) => scalar::int64(3, value, buf),
            Self::Double(value) => scalar::double(4, value, buf),
            Self::Text(text) => write_delimited(1, text.as_bytes(), buf),
            Self::Array(elements) => write_message(5, elements, buf),
            Self::Other(value) => prost::Message::encode_raw(value, buf),
        }
    }
}

/// An `ArrayValue`: its elements, each an `AnyValue` (field 1).
pub(super) enum Elements<'a> {
    Bool(&'a [bool]),
    Int(&'a [i64]),
    Double(&'a [f64]),
    Text(&'a [StringValue]),
}

impl<'a> Elements<'a> {
    /// `None` for an array kind added to the API after this was written.
    fn of(array: &'a Array) -> Option<Self> {
        Some(match array {
            Array::Bool(values) => Self::Bool(values),
            Array::I64(values) => Self::Int(values),
            Array::F64(values) => Self::Double(values),
            Array::String(values) => Self::Text(values),
            _ => return None,
        })
    }

    /// Calls `each` with every element.
    fn for_each(&self, mut each: impl FnMut(Any<'a>)) {
        match *self {
            Self::Bool(values) => values.iter().for_each(|value| each(Any::Bool(*value))),
            Self::Int(values) => values.iter().for_each(|value| each(Any::Int(*value))),
            Self::Double(values) => values.iter().for_each(|value| each(Any::Double(*value))),
            Self::Text(values) => values
                .iter()
                .for_each(|value| each(Any::Text(value.as_str()))),
        }
    }
}

impl Message for Elements<'_> {
    fn body_len(&self) -> usize {
        let mut len = 0;
        self.for_each(|element| len += message_len(1, &element));
        len
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        self.for_each(|element| write_message(1, &element, buf));
    }
}

/// An `InstrumentationScope` (its name, version and attributes), as a span's scope entry
/// carries it.
pub(crate) struct Scope<'a>(pub(crate) &'a InstrumentationScope);

impl Message for Scope<'_> {
    fn body_len(&self) -> usize {
        bytes_len(1, self.0.name().as_bytes())
            + bytes_len(2, self.0.version().unwrap_or_default().as_bytes())
            + attributes_len(3, self.0.attributes())
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        write_bytes(1, self.0.name().as_bytes(), buf);
        write_bytes(2, self.0.version().unwrap_or_default().as_bytes(), buf);
        write_attributes(3, self.0.attributes(), buf);
    }
}
