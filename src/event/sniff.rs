//! Byte patterns for heads that do not parse whole (cut by the capture, or damaged): the shared
//! fallback of source detection ([`super::EventSource::detect_head`]).
//!
//! Keys are matched with their quotes and must be followed by a colon, so the escaped copies inside
//! string values (an SNS `Message`, an SQS `body`) never match; whitespace and pretty-printing are
//! tolerated. A value cut by the capture is not a value.

use std::cell::OnceCell;

use crate::json::scan::{skip_whitespace, string_end};

/// A head read for byte patterns.
pub struct HeadSniff<'a> {
    head: &'a [u8],
    /// Whether a `Records` key occurs; asked by every record source, searched once.
    records: OnceCell<bool>,
}

impl<'a> HeadSniff<'a> {
    /// A sniffer over `head`.
    pub fn new(head: &'a [u8]) -> Self {
        Self {
            head,
            records: OnceCell::new(),
        }
    }

    /// Whether `quoted_key` (with its quotes: `b"\"httpMethod\""`) occurs as a key.
    pub fn has(&self, quoted_key: &[u8]) -> bool {
        self.values_after_key(quoted_key).next().is_some()
    }

    /// Whether the head has a `Records` key (the record sources' own keys count only then).
    pub fn has_records(&self) -> bool {
        *self.records.get_or_init(|| self.has(b"\"Records\""))
    }

    /// The first complete string value of `quoted_key` (raw bytes, escapes not decoded: the values
    /// compared against are plain ASCII).
    pub fn string_value(&self, quoted_key: &[u8]) -> Option<&'a [u8]> {
        self.values_after_key(quoted_key).find_map(|value| {
            if value.first() != Some(&b'"') {
                return None;
            }
            string_end(value, 0).map(|end| &value[1..end - 1])
        })
    }

    /// For every occurrence of `quoted_key` followed by optional whitespace and `:`, the bytes
    /// after the colon and any whitespace.
    fn values_after_key<'k>(&self, quoted_key: &'k [u8]) -> impl Iterator<Item = &'a [u8]> + 'k
    where
        'a: 'k,
    {
        let mut rest = self.head;
        std::iter::from_fn(move || loop {
            // memmem, not a window-by-window compare: a 4 KiB head is searched for some twenty keys.
            let at = memchr::memmem::find(rest, quoted_key)?;
            rest = &rest[at + quoted_key.len()..];
            let colon = skip_whitespace(rest, 0);
            if rest.get(colon) == Some(&b':') {
                let after = &rest[colon + 1..];
                return Some(&after[skip_whitespace(after, 0)..]);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_need_their_colon_and_values_their_closing_quote() {
        let head = HeadSniff::new(b"{\"a\"\n :\t\"x\\\"y\", \"b\": 1, \"c\" \"d\":\"cut");
        assert!(head.has(b"\"a\"") && head.has(b"\"b\""));
        assert!(!head.has(b"\"c\""), "no colon after it");
        assert_eq!(head.string_value(b"\"a\""), Some(&b"x\\\"y"[..]));
        assert_eq!(head.string_value(b"\"b\""), None, "not a string");
        assert_eq!(head.string_value(b"\"d\""), None, "cut");
        assert!(!head.has_records());
    }

    #[test]
    fn escaped_keys_do_not_match() {
        let head = HeadSniff::new(br#"{"Message":"{\"Records\":[]}"}"#);
        assert!(!head.has_records());
    }
}
