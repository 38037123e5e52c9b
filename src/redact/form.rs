//! Form posts, as the decoded payload of a base64 body may be one; the text scan
//! ([`super::text`]) runs as well, these add what it cannot see.
//!
//! - `application/x-www-form-urlencoded` (`user=bob&password=p%40ss`): text without whitespace
//!   holding a `=`, read as `&`-separated fields. A field whose name, decoded (`+` a space, `%XX` a
//!   byte), names a secret loses its whole value (`user%5Bpassword%5D=…`); so does one whose value
//!   shows a secret to the value detectors only once decoded (`Bearer+abc`, `4111+1111+…`).
//! - `multipart/form-data`: a part whose `Content-Disposition` `name` names a secret loses its
//!   content, up to the line break before the next boundary (or the end of a cut body).

use std::ops::Range;

use super::values::value_matches;
use super::RedactionRules;
use crate::settings::percent_decode;

/// Byte ranges of the secret values of the form fields in `text`.
pub(super) fn form_values(text: &str, rules: &RedactionRules) -> Vec<Range<usize>> {
    let mut ranges = urlencoded_values(text, rules);
    ranges.extend(multipart_values(text, rules));
    ranges
}

fn urlencoded_values(text: &str, rules: &RedactionRules) -> Vec<Range<usize>> {
    let form = text.trim_end_matches(['\r', '\n']);
    let is_form = form.contains('=')
        && !form
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
    if !is_form {
        return Vec::new();
    }
    let mut ranges = Vec::new();
    let mut field_start = 0;
    for field in form.split('&') {
        let start = field_start;
        field_start += field.len() + 1;
        let Some((name, value)) = field.split_once('=') else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let secret = rules.key_matches(&form_decode(name)) || {
            let decoded = form_decode(value);
            rules.values && decoded != value && value_matches(&decoded).next().is_some()
        };
        if secret {
            let value_start = start + name.len() + 1;
            ranges.push(value_start..value_start + value.len());
        }
    }
    ranges
}

/// A form field's name or value as sent: `+` a space, `%XX` a byte; as it is when an escape is
/// broken or the bytes are not UTF-8.
fn form_decode(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_decode(&spaced).unwrap_or(spaced)
}

fn multipart_values(text: &str, rules: &RedactionRules) -> Vec<Range<usize>> {
    const DISPOSITION: &str = "content-disposition:";
    // ASCII lower-casing keeps every byte where it was.
    let lower = text.to_ascii_lowercase();
    let mut ranges = Vec::new();
    for (at, _) in lower.match_indices(DISPOSITION) {
        let line_end = text[at..].find('\n').map_or(text.len(), |p| at + p);
        let secret = disposition_name(&text[at + DISPOSITION.len()..line_end])
            .is_some_and(|name| rules.key_matches(name));
        if !secret {
            continue;
        }
        // The part's headers end at a blank line; its content at the line break of a boundary.
        let Some(blank) = find_first(text, line_end, &["\n\r\n", "\n\n"]) else {
            continue;
        };
        let start = blank.end;
        let end = find_first(text, start, &["\r\n--", "\n--"]).map_or(text.len(), |b| b.start);
        if end > start {
            ranges.push(start..end);
        }
    }
    ranges
}

/// The `name` parameter of a `Content-Disposition` value (`form-data; name="password"`).
fn disposition_name(value: &str) -> Option<&str> {
    value.split(';').skip(1).find_map(|param| {
        let (key, name) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("name")
            .then(|| name.trim().trim_matches('"'))
    })
}

/// The first occurrence of any of `needles` in `text` from `from`.
fn find_first(text: &str, from: usize, needles: &[&str]) -> Option<Range<usize>> {
    needles
        .iter()
        .filter_map(|needle| {
            let at = from + text[from..].find(needle)?;
            Some(at..at + needle.len())
        })
        .min_by_key(|found| found.start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::testing::rules;

    fn values(text: &str) -> Vec<&str> {
        let mut ranges = form_values(text, &rules());
        ranges.sort_by_key(|r| r.start);
        ranges.into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn urlencoded_fields() {
        assert_eq!(
            values("a=1&api%5Fkey=k%26v&x+token=t&pin=Bearer%20abc&empty_password=&plain=4111"),
            ["k%26v", "t", "Bearer%20abc"]
        );
        // Prose with an `=` is not a form.
        assert!(values("the token is=abc").is_empty());
        assert!(values("password").is_empty());
    }

    #[test]
    fn multipart_parts() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nbob\r\n--XyZ\r\ncontent-disposition: form-data; name=\"new_password\"\r\nContent-Type: text/plain\r\n\r\nhunter2\r\nsecond line\r\n--XyZ\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"token.png\"\r\n\r\n\u{fffd}PNG\r\n--XyZ--\r\n";
        assert_eq!(values(body), ["hunter2\r\nsecond line"]);
        // Cut inside the secret part: its content runs to the cut.
        let cut = &body[..body.find("second").unwrap()];
        assert_eq!(values(cut), ["hunter2\r\n"]);
    }
}
