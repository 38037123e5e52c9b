//! Byte ranges of values in a whole JSON document, found without building it, so that an edit can
//! change exactly those bytes ([`crate::transform`]).
//!
//! Inputs are known to parse (serde_json checked them), so the locator only needs to be right on
//! valid JSON; callers verify their edits anyway. It reads the document with the lexical layer of
//! [`crate::json::scan`].

use std::borrow::Cow;
use std::ops::Range;

use crate::json::scan::{scalar_end, skip_whitespace, string_content, string_end};
use crate::json::Segment;

/// End (exclusive) of the value starting at `at`.
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => string_end(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            while i < bytes.len() {
                match bytes[i] {
                    b'"' => {
                        i = string_end(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => Some(scalar_end(bytes, at)),
    }
}

/// Members of the object at `object` as (decoded key, value range).
fn members(bytes: &[u8], object: Range<usize>) -> Option<Vec<(Cow<'_, str>, Range<usize>)>> {
    let mut out = Vec::new();
    let mut i = skip_whitespace(bytes, object.start + 1);
    if bytes.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(bytes, i)?;
        let key = string_content(std::str::from_utf8(&bytes[i..key_end]).ok()?, true);
        i = skip_whitespace(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_whitespace(bytes, i + 1);
        let end = value_end(bytes, start)?;
        out.push((key, start..end));
        i = skip_whitespace(bytes, end);
        match bytes.get(i)? {
            b',' => i = skip_whitespace(bytes, i + 1),
            b'}' => return Some(out),
            _ => return None,
        }
    }
}

/// Element ranges of the array at `array`.
fn elements(bytes: &[u8], array: Range<usize>) -> Option<Vec<Range<usize>>> {
    let mut out = Vec::new();
    let mut i = skip_whitespace(bytes, array.start + 1);
    if bytes.get(i) == Some(&b']') {
        return Some(out);
    }
    loop {
        let end = value_end(bytes, i)?;
        out.push(i..end);
        i = skip_whitespace(bytes, end);
        match bytes.get(i)? {
            b',' => i = skip_whitespace(bytes, i + 1),
            b']' => return Some(out),
            _ => return None,
        }
    }
}

/// Position of the top-level object's `{`.
pub fn top_level_object_start(bytes: &[u8]) -> Option<usize> {
    let i = skip_whitespace(bytes, 0);
    (bytes.get(i) == Some(&b'{')).then_some(i)
}

/// Value range of the top-level object's member `key` (the last one, as parsers keep).
pub fn member_value(bytes: &[u8], key: &str) -> Option<Range<usize>> {
    let start = top_level_object_start(bytes)?;
    let end = value_end(bytes, start)?;
    members(bytes, start..end)?
        .into_iter()
        .rfind(|(k, _)| k == key)
        .map(|(_, r)| r)
}

/// Whether the object text `{ ... }` has no members.
pub fn is_empty_object(object: &[u8]) -> bool {
    skip_whitespace(object, 1) == object.len() - 1
}

/// Value ranges at `path` from the top-level value.
pub fn values_at(bytes: &[u8], path: &[Segment]) -> Vec<Range<usize>> {
    fn walk(b: &[u8], at: Range<usize>, path: &[Segment], out: &mut Vec<Range<usize>>) {
        let Some((first, rest)) = path.split_first() else {
            out.push(at);
            return;
        };
        match (first, b[at.start]) {
            (Segment::Key(k), b'{') => {
                if let Some(members) = members(b, at) {
                    if let Some((_, r)) = members.into_iter().rfind(|(key, _)| key == k) {
                        walk(b, r, rest, out);
                    }
                }
            }
            (Segment::Index(i), b'[') => {
                if let Some(r) = elements(b, at).and_then(|e| e.into_iter().nth(*i)) {
                    walk(b, r, rest, out);
                }
            }
            (Segment::AnyKey, b'{') => {
                for (_, r) in members(b, at).unwrap_or_default() {
                    walk(b, r, rest, out);
                }
            }
            (Segment::AnyIndex, b'[') => {
                for r in elements(b, at).unwrap_or_default() {
                    walk(b, r, rest, out);
                }
            }
            _ => {}
        }
    }
    let start = skip_whitespace(bytes, 0);
    let mut out = Vec::new();
    if let Some(end) = value_end(bytes, start) {
        walk(bytes, start..end, path, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::JsonPath;

    #[test]
    fn ranges_survive_escapes_and_nesting() {
        let body = br#" {"a\"b":"x}\"{","headers" : { "k" : [1,{"z":"]"}] } , "t":true}"#;
        let r = member_value(body, "headers").expect("found");
        assert_eq!(&body[r], br#"{ "k" : [1,{"z":"]"}] }"#);
        let r = member_value(body, "a\"b").expect("escaped key found");
        assert_eq!(&body[r], br#""x}\"{""#);
        assert_eq!(member_value(body, "nope"), None);
    }

    #[test]
    fn values_at_paths() {
        let body = br#"{"items":[{"pin":1},{"pin": "2" ,"q":3}],"x":{"a":null,"b":[true]}}"#;
        let at = |path: &str| {
            let path = JsonPath::parse(path).expect("valid");
            values_at(body, path.segments())
                .into_iter()
                .map(|r| std::str::from_utf8(&body[r]).expect("utf-8").to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(at("items[*].pin"), ["1", r#""2""#]);
        assert_eq!(at("x.*"), ["null", "[true]"]);
        assert_eq!(at("x.b[0]"), ["true"]);
        assert!(at("items[5].pin").is_empty());
        assert!(at("items.pin").is_empty());
    }

    #[test]
    fn objects_and_their_start() {
        assert_eq!(top_level_object_start(b"  {}"), Some(2));
        assert_eq!(top_level_object_start(b"[{}]"), None);
        assert!(is_empty_object(b"{ \n }"));
        assert!(!is_empty_object(br#"{"a":1}"#));
    }
}
