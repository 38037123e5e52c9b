//! The HTTP headers of an HTTP-shaped event, for context extraction (`traceparent`) and for
//! injection, which must also fill `multiValueHeaders` when the event has them.

use serde_json::{Map, Value};

use crate::event::fields::member_ignore_case;

/// The `headers` and `multiValueHeaders` of an event, read by case-insensitive name.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    single: Option<&'a Map<String, Value>>,
    multi: Option<&'a Map<String, Value>>,
}

impl<'a> Headers<'a> {
    /// The headers of `event` (none when it has neither member as an object).
    pub(super) fn of(event: &'a Value) -> Self {
        let object = |member: &str| event.get(member).and_then(Value::as_object);
        Self {
            single: object("headers"),
            multi: object("multiValueHeaders"),
        }
    }

    /// A header's value by case-insensitive name: from `headers`, else the first of
    /// `multiValueHeaders`.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        let find = |map: Option<&'a Map<String, Value>>| member_ignore_case(map?, name);
        find(self.single)
            .and_then(Value::as_str)
            .or_else(|| find(self.multi)?.get(0)?.as_str())
    }

    /// Whether the event has `multiValueHeaders` (REST APIs and ALBs with multi-value headers
    /// enabled), which the function reads instead of `headers`.
    pub fn has_multi_value(&self) -> bool {
        self.multi.is_some()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn single_value_first_then_multi_value() {
        let event = json!({
            "headers": {"User-Agent": "ua", "X-Odd": 5},
            "multiValueHeaders": {"x-odd": ["m"], "traceparent": ["00-a", "00-b"]}
        });
        let headers = Headers::of(&event);
        assert_eq!(headers.get("user-agent"), Some("ua"));
        assert_eq!(headers.get("X-ODD"), Some("m"));
        assert_eq!(headers.get("TraceParent"), Some("00-a"));
        assert_eq!(headers.get("host"), None);
        assert!(headers.has_multi_value());
        let bare = json!({"headers": ["not", "an", "object"]});
        assert_eq!(Headers::of(&bare).get("0"), None);
        assert!(!Headers::of(&bare).has_multi_value());
    }
}
