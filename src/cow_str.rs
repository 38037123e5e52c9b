//! A JSON string read with serde, borrowed from the input when it has no escapes: what the
//! Telemetry API's object keys and the INVOKE event's type and request id are read as, being only
//! compared or copied once into a shared value.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A string, borrowed from the input when it has no escapes (serde's own `Cow<str>` borrows only
/// outside an `Option`, and never as a map key read by hand).
pub(crate) struct CowStr<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(CowStrVisitor)
    }
}

struct CowStrVisitor;

impl<'de> Visitor<'de> for CowStrVisitor {
    type Value = CowStr<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As serde's own string visitors say it, so that errors read as they did with `String`.
        f.write_str("a string")
    }

    fn visit_borrowed_str<Er: de::Error>(self, s: &'de str) -> Result<Self::Value, Er> {
        Ok(CowStr(Cow::Borrowed(s)))
    }

    fn visit_str<Er: de::Error>(self, s: &str) -> Result<Self::Value, Er> {
        Ok(CowStr(Cow::Owned(s.to_owned())))
    }

    fn visit_string<Er: de::Error>(self, s: String) -> Result<Self::Value, Er> {
        Ok(CowStr(Cow::Owned(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_are_borrowed_and_escaped_ones_unescaped() {
        let CowStr(plain) = serde_json::from_str(r#""r-1""#).expect("a string");
        assert!(matches!(plain, Cow::Borrowed("r-1")));
        let CowStr(escaped) = serde_json::from_str(r#""r\/1""#).expect("a string");
        assert!(matches!(escaped, Cow::Owned(ref s) if s == "r/1"));
        let refused = serde_json::from_str::<CowStr<'_>>("5")
            .err()
            .expect("not a string");
        assert_eq!(
            refused.to_string(),
            "invalid type: integer `5`, expected a string at line 1 column 1"
        );
    }
}
