//! The text scan: free text (a query string, a log line, a string value that is not JSON) loses
//! the values of `key=value`, `key: value` and `"key": "value"` pairs whose key names a secret, and
//! whatever the value detectors find.

use std::borrow::Cow;
use std::ops::Range;

use super::form::form_values;
use super::values::value_matches;
use super::{RedactionRules, Redactor};
use crate::json::scan::string_end;

/// Text shorter than this is searched for `=` and `:` byte by byte; longer text with memchr.
const SHORT_TEXT_BYTES: usize = 64;

/// Redacts free text (a query string, a path): the pair scan and the value detectors.
/// Returns the text (borrowed when nothing was replaced) and the number of replacements.
pub fn redact_text<'t>(text: &'t str, rules: &RedactionRules) -> (Cow<'t, str>, u32) {
    let mut redactor = Redactor::new(rules, None);
    let out = redactor.text(text);
    (out, redactor.count)
}

impl Redactor<'_> {
    /// Free text: `key=value`, `key: value` and `"key": "value"` pairs with a secret key, and the
    /// value detectors. Borrowed when nothing was replaced.
    pub(super) fn text<'t>(&mut self, text: &'t str) -> Cow<'t, str> {
        self.text_and(text, Vec::new())
    }

    /// The text of a decoded payload: the text scan, and the form fields with a secret name or a
    /// secret only their decoding shows.
    pub(super) fn payload_text<'t>(&mut self, text: &'t str) -> Cow<'t, str> {
        let fields = form_values(text, self.rules);
        self.text_and(text, fields)
    }

    /// The text scan with `ranges` (found by the caller) replaced too.
    fn text_and<'t>(&mut self, text: &'t str, mut ranges: Vec<Range<usize>>) -> Cow<'t, str> {
        pair_values(text, self.rules, &mut ranges);
        if self.rules.values {
            ranges.extend(value_matches(text));
        }
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        ranges.sort_unstable_by_key(|r| r.start);
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for range in ranges {
            if range.end <= at {
                continue;
            }
            // Overlapping matches merge into one replacement.
            if range.start < at {
                at = range.end;
                continue;
            }
            out.push_str(&text[at..range.start]);
            out.push_str(self.redacted());
            at = range.end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }
}

/// Adds to `ranges` the byte ranges of the values of `key=value` / `key: value` /
/// `"key": "value"` pairs whose key matches the rules.
fn pair_values(text: &str, rules: &RedactionRules, ranges: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let mut pair = |sep_at| {
        if let Some(range) = pair_value(text, sep_at, rules) {
            ranges.push(range);
        }
    };
    // memchr pays for its set-up on long text (an SQS body); most strings are short ids and words.
    if bytes.len() < SHORT_TEXT_BYTES {
        for (at, _) in bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| matches!(b, b'=' | b':'))
        {
            pair(at);
        }
    } else {
        memchr::memchr2_iter(b'=', b':', bytes).for_each(pair);
    }
}

/// The value of the pair whose separator (`=` or `:`) is at `sep_at`, when its key matches.
fn pair_value(text: &str, sep_at: usize, rules: &RedactionRules) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let is_key_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let sep = bytes[sep_at];
    // The key: identifier characters before the separator, optionally quoted and spaced.
    let mut key_end = sep_at;
    while key_end > 0 && bytes[key_end - 1] == b' ' {
        key_end -= 1;
    }
    if key_end > 0 && matches!(bytes[key_end - 1], b'"' | b'\'') {
        key_end -= 1;
    }
    let key_start = bytes[..key_end]
        .iter()
        .rposition(|&b| !is_key_byte(b))
        .map_or(0, |p| p + 1);
    if key_start == key_end || !rules.key_matches(&text[key_start..key_end]) {
        return None;
    }
    let mut start = sep_at + 1;
    while start < bytes.len() && matches!(bytes[start], b' ' | b'\t') {
        start += 1;
    }
    let end = match bytes.get(start) {
        Some(b'"') => {
            start += 1;
            string_end(bytes, start - 1).map_or(bytes.len(), |end| end - 1)
        }
        Some(b'\'') => {
            start += 1;
            bytes[start..]
                .iter()
                .position(|&b| b == b'\'')
                .map_or(bytes.len(), |p| start + p)
        }
        // A nested structure is left to the JSON walk (or to the value detectors).
        Some(b'{' | b'[') | None => return None,
        Some(_) => {
            // `key=value` ends at the next separator of a query string or cookie list;
            // `key: value` (a header line) runs to the end of the line.
            let stops: &[u8] = if sep == b'=' {
                b"&;, \t\r\n\"'}]"
            } else {
                b";,\r\n\"'}]"
            };
            let end = bytes[start..]
                .iter()
                .position(|b| stops.contains(b))
                .map_or(bytes.len(), |p| start + p);
            text[..end].trim_end().len().max(start)
        }
    };
    (end > start).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use crate::redact::testing::text;

    #[test]
    fn pairs_in_text() {
        assert_eq!(
            text("user=bob&password=hunter2&x=1"),
            "user=bob&password=[REDACTED]&x=1"
        );
        assert_eq!(
            text("Authorization: Basic dXNlcjpwYXNz\nHost: x"),
            "Authorization: [REDACTED]\nHost: x"
        );
        assert_eq!(
            text(r#"{"api_key": "k1", "token":'t2'"#),
            r#"{"api_key": "[REDACTED]", "token":'[REDACTED]'"#
        );
        assert_eq!(text("session=; next"), "session=; next");
        assert_eq!(text("https://example.com"), "https://example.com");
    }
}
