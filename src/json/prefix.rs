//! Parsing a captured head that the capture may have cut: the whole document when it parses,
//! otherwise its longest prefix that ends after a complete value, with the containers still open
//! closed. A value cut in the middle, or a key without its value, is left out, so whatever the
//! result holds was in the body as it stands.

use serde_json::Value;

use crate::json::scan::{Token, Tokens};

/// How much of a head parsed as JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// The head is a whole, valid JSON document.
    Whole(Value),
    /// Only a prefix of the head parsed (the head was cut, or is damaged further on).
    Prefix(Value),
    /// Nothing usable.
    Nothing,
}

impl Parsed {
    /// The parsed value, whole or prefix.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Self::Whole(value) | Self::Prefix(value) => Some(value),
            Self::Nothing => None,
        }
    }
}

/// The whole document, when `head` is one.
pub fn parse_whole(head: &[u8]) -> Option<Value> {
    serde_json::from_slice(head).ok()
}

/// The value of the longest complete prefix of a head that is not a whole document (see the module
/// documentation); `None` when not even an opening bracket is usable.
pub fn parse_prefix(head: &[u8]) -> Option<Value> {
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
    };
    serde_json::from_str(&closed_prefix(text)?).ok()
}

/// The longest prefix of `text` that ends after a complete value or an opening bracket, with the
/// brackets still open closed.
fn closed_prefix(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut tokens = Tokens::new(bytes);
    // The end of the prefix and its closers, kept in one buffer reused at every safe point.
    let mut safe_end = None;
    let mut closers = String::new();
    while let Some((token, range)) = tokens.next() {
        match token {
            Token::Whitespace | Token::Comma | Token::Colon | Token::Key { terminated: true } => {
                continue
            }
            Token::Key { terminated: false } | Token::String { terminated: false } => break,
            // A scalar running into the end may be cut (`20` of `200`).
            Token::Scalar if range.end == bytes.len() => break,
            Token::Open(_) | Token::Close | Token::String { terminated: true } | Token::Scalar => {}
        }
        safe_end = Some(range.end);
        closers.clear();
        closers.extend(tokens.open_innermost_first().map(|c| c.closer()));
    }
    Some(format!("{}{closers}", &text[..safe_end?]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_prefixes() {
        for (head, expected) in [
            (r#"{"a":1,"b":"x"#, Some(r#"{"a":1}"#)),
            (r#"{"a":1,"b":"#, Some(r#"{"a":1}"#)),
            (r#"{"a":1,"b""#, Some(r#"{"a":1}"#)),
            (r#"{"a":[1,2"#, Some(r#"{"a":[1]}"#)),
            (r#"{"a":{"#, Some(r#"{"a":{}}"#)),
            (r#"{"statusCode": 20"#, Some("{}")),
            (r#"{"a":"x", "#, Some(r#"{"a":"x"}"#)),
            ("", None),
            ("   ", None),
        ] {
            assert_eq!(closed_prefix(head).as_deref(), expected, "{head}");
        }
    }

    #[test]
    fn prefixes_parse_and_bad_bytes_end_them() {
        assert_eq!(
            parse_prefix(br#"{"a":[1,{"b":"c"},"d"#),
            Some(serde_json::json!({"a":[1,{"b":"c"}]}))
        );
        assert_eq!(
            parse_prefix(b"{\"a\":1,\"b\":\"\xff\"}"),
            Some(serde_json::json!({"a":1}))
        );
        assert_eq!(parse_prefix(b"not json"), None);
        assert_eq!(parse_whole(br#"{"a":1}"#), Some(serde_json::json!({"a":1})));
        assert_eq!(parse_whole(br#"{"a":1"#), None);
    }
}
