//! The captured form of a body ([`captured_body`]): read as JSON, text or bytes (the reading the
//! decoded payload of a base64 body gets too), redacted, then cut to the limit with
//! [`TRUNCATION_MARKER`]; a non-UTF-8 body in which nothing was found to redact is exported as
//! `base64:` and the base64 of its first bytes.

use std::borrow::Cow;

use base64::Engine as _;

use super::form::form_values;
use super::walk::looks_like_json;
use super::{RedactionRules, Redactor};
use crate::event::ParsedBody;

/// Appended to a captured body when part of it is left out.
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// Prefix of the captured form of a non-UTF-8 body.
pub const BASE64_PREFIX: &str = "base64:";

/// How [`CapturedBody::text`] represents the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    /// A whole JSON document, redacted and re-serialised compactly.
    Json,
    /// UTF-8 text (including a truncated JSON head), redacted.
    Text,
    /// `base64:` + base64 of the first bytes of a non-UTF-8 body in which nothing was found to redact.
    Base64,
}

/// A body in the form it may be exported in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedBody {
    /// The redacted, possibly cut text, ending with [`TRUNCATION_MARKER`] when `truncated`.
    pub text: String,
    /// Part of the body is missing from `text` (cut here, or never captured).
    pub truncated: bool,
    /// How many values or substrings were replaced by [`REDACTED`](super::REDACTED).
    pub redactions: u32,
    /// How `text` represents the body.
    pub encoding: BodyEncoding,
}

/// The captured form of a body: redacted, then cut to `limit` bytes.
///
/// When the body's head is not the whole body ([`ParsedBody::complete`]; for a `BodyCapture`:
/// `complete && !truncated()`), the result is marked truncated even if nothing more is cut here.
pub fn captured_body(body: &ParsedBody<'_>, rules: &RedactionRules, limit: usize) -> CapturedBody {
    let (head, complete) = (body.head(), body.complete());
    let mut redactor = Redactor::new(rules, Some(body));
    let (redacted, encoding) = match redactor.read(head, complete) {
        Reading::Json(text) => (text, BodyEncoding::Json),
        Reading::Text(text) => (text, BodyEncoding::Text),
        Reading::Binary => return base64_form(head, complete, limit),
    };
    let (text, truncated) = cut_with_marker(redacted, limit, complete);
    CapturedBody {
        text,
        truncated,
        redactions: redactor.count,
        encoding,
    }
}

/// `redacted` cut to `limit` bytes, with [`TRUNCATION_MARKER`] when anything is left out; true
/// when it is. Text borrowed from the body is copied once, into a string of its final size.
fn cut_with_marker(redacted: Cow<'_, str>, limit: usize, complete: bool) -> (String, bool) {
    let kept = floor_char_boundary(&redacted, limit);
    let truncated = kept < redacted.len() || !complete;
    let marker = if truncated { TRUNCATION_MARKER } else { "" };
    let text = match redacted {
        Cow::Owned(mut text) => {
            text.truncate(kept);
            text.push_str(marker);
            text
        }
        Cow::Borrowed(text) => {
            let mut out = String::with_capacity(kept + marker.len());
            out.push_str(&text[..kept]);
            out.push_str(marker);
            out
        }
    };
    (text, truncated)
}

/// A body's bytes as read and redacted, before any cut.
pub(super) enum Reading<'t> {
    /// A whole, valid JSON document, re-serialised compactly.
    Json(Cow<'t, str>),
    /// UTF-8 text (a cut JSON head among it), or the lossy reading of bytes that held a secret.
    Text(Cow<'t, str>),
    /// Bytes that are not UTF-8 and in which nothing was found to redact.
    Binary,
}

impl Reading<'_> {
    /// The reading, owning its text.
    fn into_owned(self) -> Reading<'static> {
        match self {
            Self::Json(text) => Reading::Json(Cow::Owned(text.into_owned())),
            Self::Text(text) => Reading::Text(Cow::Owned(text.into_owned())),
            Self::Binary => Reading::Binary,
        }
    }
}

impl Redactor<'_> {
    /// Reads `head` as JSON, text or bytes and redacts it; `complete`: the head is the whole body.
    /// Without an event, `head` is a decoded payload, which may be a form.
    pub(super) fn read<'t>(&mut self, head: &'t [u8], complete: bool) -> Reading<'t> {
        let text = match std::str::from_utf8(head) {
            Ok(text) => text,
            // Only the last character was cut by the capture: the rest is text.
            Err(e) if e.error_len().is_none() && !complete => {
                std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
            }
            Err(_) => {
                // Not UTF-8. If the readable parts hold anything to redact (JSON with one Latin-1
                // byte, say), export them redacted, invalid bytes as U+FFFD; otherwise base64.
                let lossy = String::from_utf8_lossy(head);
                if !self.finds_secrets(&lossy) {
                    return Reading::Binary;
                }
                return self.read_text(&lossy, complete).into_owned();
            }
        };
        self.read_text(text, complete)
    }

    /// [`Self::read`] of UTF-8 text.
    fn read_text<'t>(&mut self, text: &'t str, complete: bool) -> Reading<'t> {
        // A head serde_json already parsed whole is valid; any other (not parsed yet, not JSON, a
        // lossy reading, or a document it will not build, such as nesting past its limit) gets the
        // validity check, which builds nothing: a body is not parsed into a document just for it.
        let is_json = complete
            && (self.event.and_then(ParsedBody::parsed_whole) == Some(true)
                || serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok());
        // The header floor of HTTP-shaped events; whether the body is one is asked only when a root
        // `headers`, `multiValueHeaders` or `cookies` member is met.
        let header_floor = self.event.is_some();
        if is_json {
            Reading::Json(self.json(text, true, header_floor))
        } else if looks_like_json(text) {
            // A cut JSON head, or text that merely starts like JSON ("[INFO] password=…"): the token
            // walk handles the JSON-shaped parts, the text scan the rest.
            let walked = self.json(text, false, header_floor);
            Reading::Text(self.rescan(walked))
        } else if self.event.is_some() {
            Reading::Text(self.text(text))
        } else {
            Reading::Text(self.payload_text(text))
        }
    }

    /// Whether the lossy reading of bytes that are not UTF-8 holds anything to redact.
    fn finds_secrets(&self, lossy: &str) -> bool {
        let mut probe = Redactor::new(self.rules, self.event);
        let walked = probe.json(lossy, false, false);
        probe.rescan(walked);
        probe.count > 0 || (self.event.is_none() && !form_values(lossy, self.rules).is_empty())
    }
}

fn base64_form(head: &[u8], complete: bool, limit: usize) -> CapturedBody {
    // Every 3 input bytes become 4 output characters.
    let fits = limit.saturating_sub(BASE64_PREFIX.len()) / 4 * 3;
    let taken = &head[..head.len().min(fits)];
    let mut text = format!(
        "{BASE64_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(taken)
    );
    let truncated = taken.len() < head.len() || !complete;
    if truncated {
        text.push_str(TRUNCATION_MARKER);
    }
    CapturedBody {
        text,
        truncated,
        redactions: 0,
        encoding: BodyEncoding::Base64,
    }
}

/// `text` cut to at most `limit` bytes without splitting a character; true when it was cut.
pub(crate) fn cut_at_char_boundary(mut text: String, limit: usize) -> (String, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    text.truncate(floor_char_boundary(&text, limit));
    (text, true)
}

/// The largest index ≤ `index` that is a character boundary of `text` (`str::floor_char_boundary`
/// is newer than this crate's minimum Rust).
pub(crate) fn floor_char_boundary(text: &str, index: usize) -> usize {
    (0..=index.min(text.len()))
        .rev()
        .find(|&at| text.is_char_boundary(at))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::testing::{captured, rules};

    #[test]
    fn cuts_respect_utf8() {
        assert_eq!(cut_at_char_boundary("héllo".into(), 2), ("h".into(), true));
        assert_eq!(cut_at_char_boundary("abc".into(), 5), ("abc".into(), false));
        assert_eq!(floor_char_boundary("héllo", 2), 1);
        assert_eq!(floor_char_boundary("abc", 9), 3);
    }

    #[test]
    fn non_utf8_bodies_with_secrets_are_redacted_not_base64() {
        let rules = RedactionRules::default();
        let out = captured(
            b"{\"password\":\"hunter2\",\"name\":\"Jos\xe9\"}",
            true,
            &rules,
            4096,
        );
        assert!(!out.text.contains("hunter2"), "{}", out.text);
        assert_ne!(out.encoding, BodyEncoding::Base64);
        assert!(out.text.contains('\u{fffd}'));
        let binary = captured(b"\xff\xfe\x00binary", true, &rules, 4096);
        assert_eq!(binary.encoding, BodyEncoding::Base64);
    }

    #[test]
    fn truncated_heads_stay_redacted() {
        let head = "{\n  \"user\": \"bob\",\n  \"password\": \"hunter2hunter2\",\n  \"token\": \"abc\\\"de";
        let body = captured(head.as_bytes(), false, &rules(), 4096);
        assert_eq!(
            body.text,
            "{\n  \"user\": \"bob\",\n  \"password\": \"[REDACTED]\",\n  \"token\": \"[REDACTED]\"…[truncated]"
        );
        assert_eq!(
            (body.truncated, body.redactions, body.encoding),
            (true, 2, BodyEncoding::Text)
        );
        // A string cut inside an escape, with a card number before the cut.
        let head = r#"{"note":"4111111111111111 \u00"#;
        let body = captured(head.as_bytes(), false, &rules(), 4096);
        assert_eq!(body.text, r#"{"note":"[REDACTED] …[truncated]"#);
    }

    #[test]
    fn limit_and_marker() {
        let body = captured(br#"{"a":"xxxxxxxxxx"}"#, true, &rules(), 8);
        assert_eq!(body.text, r#"{"a":"xx…[truncated]"#);
        assert!(body.truncated);
        assert_eq!(body.encoding, BodyEncoding::Json);
        let whole = captured(b"hello", true, &rules(), 5);
        assert_eq!((whole.text.as_str(), whole.truncated), ("hello", false));
        // Cut on a character boundary.
        let body = captured("ééé".as_bytes(), true, &rules(), 3);
        assert_eq!(body.text, "é…[truncated]");
    }

    #[test]
    fn non_utf8_is_base64() {
        let body = captured(b"\xff\xfe\x00abc", true, &rules(), 4096);
        assert_eq!(body.text, "base64://4AYWJj");
        assert_eq!(
            (body.encoding, body.truncated, body.redactions),
            (BodyEncoding::Base64, false, 0)
        );
        let body = captured(&[0xff; 10], true, &rules(), 15);
        assert_eq!(body.text, "base64:////////…[truncated]");
        assert!(body.truncated);
        // Only the last character cut by the capture: still text.
        let body = captured(
            "ab é".as_bytes().split_last().unwrap().1,
            false,
            &rules(),
            64,
        );
        assert_eq!(
            (body.text.as_str(), body.encoding),
            ("ab …[truncated]", BodyEncoding::Text)
        );
    }
}
