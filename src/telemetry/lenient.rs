//! Lenient serde readers for Telemetry API records: a value of an unexpected JSON type reads as
//! "nothing" instead of failing, yet every value is read in full through `deserialize_any`, so the
//! text accepted is exactly what parsing into `serde_json::Value` accepts (UTF-8, escapes, numbers,
//! nesting depth) while nothing is allocated for what is not kept.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::cow_str::CowStr;

/// An object's fields, read key by key into `Self`.
pub(super) trait Fields<'de>: Default {
    /// Reads the value of `key` from `map`. Every occurrence overwrites the field, so the last one
    /// wins as in `Value`; a value of the wrong type sets the field to nothing.
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// The next value of `map`, read leniently (strings and numbers kept).
pub(super) fn next_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Lenient<'de>, A::Error> {
    map.next_value()
}

/// Fields kept on the heap: for a large `O` that moves through several frames on its way into an
/// event, one allocation is cheaper than copying it.
impl<'de, O: Fields<'de>> Fields<'de> for Box<O> {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        O::read(self, key, map)
    }
}

/// The fields of an object nobody reads: every value is read (and checked) and dropped.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(super) struct Skip;

impl<'de> Fields<'de> for Skip {
    fn read<A: MapAccess<'de>>(&mut self, _key: &str, map: &mut A) -> Result<(), A::Error> {
        next_value(map).map(drop)
    }
}

/// One JSON value as far as a reader wants it: strings and numbers kept, an object read into `O`,
/// an array's object elements read into `E`; everything else is read through and dropped.
#[derive(Debug, PartialEq)]
pub(super) enum Lenient<'de, O = Skip, E = Skip> {
    /// A string, borrowed from the input when it has no escapes.
    Text(Cow<'de, str>),
    /// A non-negative integer.
    Unsigned(u64),
    /// A negative integer.
    Negative(i64),
    /// A number with a fraction or an exponent, or too large for 64 bits.
    Float(f64),
    /// An object, its fields read into `O` in place (a large `O` is read as `Box<O>`).
    Object(O),
    /// An array: its elements that are objects, in order.
    Array(Vec<E>),
    /// `null`, `true` or `false`.
    Other,
}

impl<'de, O, E> Lenient<'de, O, E> {
    /// The string, if the value is one.
    pub(super) fn text(self) -> Option<Cow<'de, str>> {
        match self {
            Self::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The string, owned, if the value is one.
    pub(super) fn string(self) -> Option<String> {
        self.text().map(Cow::into_owned)
    }

    /// The number, if the value is one (as `Value::as_f64`).
    pub(super) fn float(&self) -> Option<f64> {
        match *self {
            Self::Unsigned(u) => Some(u as f64),
            Self::Negative(i) => Some(i as f64),
            Self::Float(f) => Some(f),
            _ => None,
        }
    }

    /// A non-negative integer; a whole number written as a float (`128.0`) is accepted too.
    pub(super) fn unsigned(&self) -> Option<u64> {
        match *self {
            Self::Unsigned(u) => Some(u),
            Self::Negative(i) => u64::try_from(i).ok(),
            Self::Float(f) => {
                (f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64).then_some(f as u64)
            }
            _ => None,
        }
    }

    /// The object's fields, if the value is an object.
    pub(super) fn object(self) -> Option<O> {
        match self {
            Self::Object(fields) => Some(fields),
            _ => None,
        }
    }

    /// The array's object elements; none when the value is not an array.
    pub(super) fn array(self) -> Vec<E> {
        match self {
            Self::Array(elements) => elements,
            _ => Vec::new(),
        }
    }
}

impl<'de, O: Fields<'de>, E: Fields<'de>> Deserialize<'de> for Lenient<'de, O, E> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LenientVisitor {
            start: O::default,
            kinds: PhantomData,
        })
    }
}

/// Reads a [`Lenient`] whose object fields start as `F` makes them instead of as `O::default()`
/// (e.g. in an allocation kept from an earlier value); `F` is called only for an object.
pub(super) struct StartingWith<F>(pub(super) F);

impl<'de, O: Fields<'de>, F: FnOnce() -> O> DeserializeSeed<'de> for StartingWith<F> {
    type Value = Lenient<'de, O>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(LenientVisitor {
            start: self.0,
            kinds: PhantomData,
        })
    }
}

struct LenientVisitor<F, O, E> {
    /// Makes the fields an object is read into.
    start: F,
    kinds: PhantomData<(O, E)>,
}

impl<'de, O: Fields<'de>, E: Fields<'de>, F: FnOnce() -> O> Visitor<'de>
    for LenientVisitor<F, O, E>
{
    type Value = Lenient<'de, O, E>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<Er: de::Error>(self, _: bool) -> Result<Self::Value, Er> {
        Ok(Lenient::Other)
    }

    fn visit_unit<Er: de::Error>(self) -> Result<Self::Value, Er> {
        Ok(Lenient::Other)
    }

    fn visit_u64<Er: de::Error>(self, u: u64) -> Result<Self::Value, Er> {
        Ok(Lenient::Unsigned(u))
    }

    fn visit_i64<Er: de::Error>(self, i: i64) -> Result<Self::Value, Er> {
        Ok(Lenient::Negative(i))
    }

    fn visit_f64<Er: de::Error>(self, f: f64) -> Result<Self::Value, Er> {
        Ok(Lenient::Float(f))
    }

    fn visit_borrowed_str<Er: de::Error>(self, s: &'de str) -> Result<Self::Value, Er> {
        Ok(Lenient::Text(Cow::Borrowed(s)))
    }

    fn visit_str<Er: de::Error>(self, s: &str) -> Result<Self::Value, Er> {
        Ok(Lenient::Text(Cow::Owned(s.to_owned())))
    }

    fn visit_string<Er: de::Error>(self, s: String) -> Result<Self::Value, Er> {
        Ok(Lenient::Text(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut elements = Vec::new();
        while let Some(element) = seq.next_element::<Lenient<'de, E>>()? {
            if let Lenient::Object(fields) = element {
                elements.push(fields);
            }
        }
        Ok(Lenient::Array(elements))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = (self.start)();
        while let Some(CowStr(key)) = map.next_key()? {
            fields.read(&key, &mut map)?;
        }
        Ok(Lenient::Object(fields))
    }
}
