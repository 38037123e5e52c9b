//! Redaction of captured bodies before anything leaves the process.
//!
//! This module owns the rules for what must never reach a span attribute ([`RedactionRules`]) and
//! the captured form of a body ([`captured_body`]): **redact first, then truncate**, so a cut body
//! is as redacted as a whole one.
//!
//! What is redacted (each occurrence becomes [`REDACTED`]):
//! - **Keys**: any JSON value (objects and arrays: every leaf inside) whose key, normalised
//!   (lower case, `-`, `_` and spaces removed), *contains* a pattern: `password`, `passwd`,
//!   `secret`, `token`, `authorization`, `cookie`, `apikey`, `credential`, `session`,
//!   `privatekey`, `accesskey` by default. `X-Api-Key`, `api_key` and `apiKey` all match
//!   `apikey`. Not `signature`: SNS events carry a public `Signature` and a `SignatureVersion`
//!   (add it with `+signature` where signatures are secret).
//! - **Paths**: exact JSON paths such as `$.body.card.number` or `Records[*].dynamodb.NewImage`
//!   (the grammar of [`crate::json::path`]).
//! - **Headers** of HTTP-shaped events (API Gateway REST and HTTP APIs, function URLs, ALB, as
//!   recognised by [`crate::event`]): `headers`/`multiValueHeaders` entries named
//!   `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`, `X-Api-Key`,
//!   `X-Amz-Security-Token`, `X-Auth-Token`, `X-CSRF-Token`, `X-XSRF-Token`, and every element of
//!   `cookies`. This list is a floor: it applies even when `LAMBDA_LENS_REDACT_KEYS` replaces the
//!   key patterns.
//! - **Values** (only the matching substring of a string, the rest is kept): AWS access key ids
//!   (`AKIA`/`ASIA` + 16 upper-case letters or digits), JWTs (three base64url segments, the first
//!   starting `eyJ`), the token of `Bearer <token>`, and card numbers (13–19 digits, single spaces
//!   or dashes allowed, first digit 2–6, passing the Luhn check; the first-digit rule keeps
//!   epoch-millisecond timestamps, which start with 1, out). AWS secret access keys have no
//!   recognisable shape; they are caught by their key (`secret`).
//! - **Embedded text**: string values (an SQS `body`, an SNS `Message`, an API Gateway `body`,
//!   `rawQueryString`) are redacted as JSON when they hold JSON, otherwise scanned for
//!   `key=value` / `key: value` / `"key": "value"` pairs whose key matches.
//!
//! The captured form ([`CapturedBody::encoding`]):
//! - [`BodyEncoding::Json`]: the head is a whole, valid JSON document; it is re-serialised
//!   compactly (whitespace between tokens dropped, key order kept).
//! - [`BodyEncoding::Text`]: anything else that is UTF-8. A head that starts like JSON (a truncated
//!   capture) is walked with the same structural rules, tolerating the cut, and keeps its
//!   whitespace; other text gets the pair scan and the value detectors.
//! - Non-UTF-8 bodies, **the documented safe form**: the body is read lossily (invalid bytes as
//!   U+FFFD); if that reading holds anything to redact, it is exported redacted as JSON or text like
//!   any other body, so a secret next to one stray byte never leaves in clear. Otherwise it is
//!   [`BodyEncoding::Base64`]: the text `base64:` followed by the standard (RFC 4648, padded) base64
//!   encoding of the first bytes of the body, as many as fit the limit. A head that is UTF-8 except
//!   for a multi-byte character cut by the capture limit is text, not binary.
//!
//! The text is at most `limit` bytes (cut on a character boundary) followed, when anything was
//! left out (by the limit or by the capture), by [`TRUNCATION_MARKER`].

use std::borrow::Cow;

use base64::Engine as _;

use crate::event::{ParsedBody, Source};
use crate::json::scan::{string_content, string_end, Container, Token, Tokens};
use crate::json::{JsonPath, PathStep};
use crate::settings::RedactionSettings;

/// What replaces a redacted value or substring.
pub const REDACTED: &str = "[REDACTED]";

/// Appended to a captured body when part of it is left out.
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// Prefix of the captured form of a non-UTF-8 body.
pub const BASE64_PREFIX: &str = "base64:";

/// Default key patterns (already normalised).
pub const DEFAULT_KEYS: [&str; 12] = [
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "apikey",
    "credential",
    "session",
    "privatekey",
    "accesskey",
    // Presigned URLs' X-Amz-Signature (not a bare "signature": SNS's public Signature would match).
    "amzsignature",
];

/// Header names (normalised) redacted in HTTP-shaped events whatever the key patterns are.
const SENSITIVE_HEADERS: [&str; 9] = [
    "authorization",
    "proxyauthorization",
    "cookie",
    "setcookie",
    "xapikey",
    "xamzsecuritytoken",
    "xauthtoken",
    "xcsrftoken",
    "xxsrftoken",
];

/// Nesting of JSON inside string values that is still unpacked; deeper strings get the text scan.
const MAX_EMBEDDED_DEPTH: u8 = 3;

/// What is redacted; built once from the settings ([`RedactionRules::new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactionRules {
    /// Normalised key patterns; a key matches when its normalised form contains one.
    keys: Vec<String>,
    /// Exact paths whose values are redacted.
    paths: Vec<JsonPath>,
    /// Whether the value detectors run.
    values: bool,
}

impl Default for RedactionRules {
    /// The default key patterns, no paths, value detectors on.
    fn default() -> Self {
        Self::new(&RedactionSettings::default())
    }
}

impl RedactionRules {
    /// The rules as configured.
    pub fn new(settings: &RedactionSettings) -> Self {
        Self {
            keys: settings.keys.clone(),
            paths: settings.paths.clone(),
            values: settings.values,
        }
    }

    /// True when `key` (a JSON key, header or parameter name) names a secret.
    pub fn key_matches(&self, key: &str) -> bool {
        let key = normalise_key(key);
        !key.is_empty()
            && self
                .keys
                .iter()
                .any(|pattern| key.contains(pattern.as_str()))
    }

    fn path_matches(&self, path: &[PathStep<'_>]) -> bool {
        self.paths.iter().any(|rule| rule.matches(path))
    }
}

/// Lower case without `-`, `_` and spaces, so the spellings of one name compare equal.
pub(crate) fn normalise_key(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

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
    /// How many values or substrings were replaced by [`REDACTED`].
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
    let lossy;
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // Only the last character was cut by the capture: the rest is text.
        Err(e) if e.error_len().is_none() && !complete => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => {
            // Not UTF-8. If the readable parts hold anything to redact (JSON with one Latin-1
            // byte, say), export them redacted, invalid bytes as U+FFFD; otherwise base64.
            lossy = String::from_utf8_lossy(head).into_owned();
            let mut probe = Redactor::new(rules);
            let walked = probe.json(&lossy, false, false);
            probe.rescan(walked);
            if probe.count == 0 {
                return base64_form(head, complete, limit);
            }
            &lossy
        }
    };
    // A head serde_json parsed whole is valid; only one it did not (not JSON, a lossy reading, or
    // a document it will not build, such as nesting past its limit) needs the validity check.
    let is_json = complete
        && (body.is_whole_json() || serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok());
    let http = body.source() == Source::Http;
    let mut redactor = Redactor::new(rules);
    let redacted = if is_json {
        redactor.json(text, true, http)
    } else if looks_like_json(text) {
        // A cut JSON head, or text that merely starts like JSON ("[INFO] password=…"): the token walk
        // handles the JSON-shaped parts, the text scan the rest.
        let walked = redactor.json(text, false, http);
        redactor.rescan(walked)
    } else {
        redactor.text(text)
    };
    let (mut out, cut) = cut_at_char_boundary(redacted, limit);
    let truncated = cut || !complete;
    if truncated {
        out.push_str(TRUNCATION_MARKER);
    }
    CapturedBody {
        text: out,
        truncated,
        redactions: redactor.count,
        encoding: if is_json {
            BodyEncoding::Json
        } else {
            BodyEncoding::Text
        },
    }
}

/// Redacts free text (a query string, a path): the pair scan and the value detectors.
/// Returns the text and the number of replacements.
pub fn redact_text(text: &str, rules: &RedactionRules) -> (String, u32) {
    let mut redactor = Redactor::new(rules);
    let out = redactor.text(text);
    (out, redactor.count)
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

fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
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

/// An open container while walking JSON text.
struct Frame<'a> {
    /// Object: the key of the current member (`None` until read); array: unused.
    key: Option<Cow<'a, str>>,
    /// Array: index of the current element.
    index: usize,
    is_object: bool,
    /// Everything inside is redacted (the container itself was a secret value).
    secret: bool,
}

struct Redactor<'r> {
    rules: &'r RedactionRules,
    count: u32,
    /// Nesting of JSON found inside string values.
    depth: u8,
}

impl<'r> Redactor<'r> {
    fn new(rules: &'r RedactionRules) -> Self {
        Self {
            rules,
            count: 0,
            depth: 0,
        }
    }

    fn redacted(&mut self) -> &'static str {
        self.count = self.count.saturating_add(1);
        REDACTED
    }

    /// Walks JSON text token by token, so a head cut anywhere is still handled, and copies it with
    /// secret values replaced. `compact` drops the whitespace between tokens (valid JSON only:
    /// in a damaged head, whitespace may be part of something that is not JSON).
    fn json(&mut self, text: &str, compact: bool, http: bool) -> String {
        let mut out = String::with_capacity(text.len());
        let mut stack: Vec<Frame<'_>> = Vec::new();
        for (token, range) in Tokens::new(text.as_bytes()) {
            let raw = &text[range];
            match token {
                Token::Whitespace => {
                    if !compact {
                        out.push_str(raw);
                    }
                }
                Token::Open(container) => {
                    let secret = self.value_is_secret(&stack, http);
                    stack.push(Frame {
                        key: None,
                        index: 0,
                        is_object: container == Container::Object,
                        secret,
                    });
                    out.push_str(raw);
                }
                Token::Close => {
                    stack.pop();
                    out.push_str(raw);
                }
                Token::Comma => {
                    if let Some(frame) = stack.last_mut() {
                        frame.index += 1;
                        frame.key = None;
                    }
                    out.push_str(raw);
                }
                Token::Colon => out.push_str(raw),
                Token::Key { terminated } => {
                    if let Some(frame) = stack.last_mut() {
                        frame.key = Some(string_content(raw, terminated));
                    }
                    out.push_str(raw);
                }
                Token::String { terminated } => {
                    self.string_value(&stack, http, raw, terminated, &mut out);
                }
                Token::Scalar => self.scalar_value(&stack, http, raw, &mut out),
            }
        }
        out
    }

    fn string_value(
        &mut self,
        stack: &[Frame<'_>],
        http: bool,
        raw: &str,
        terminated: bool,
        out: &mut String,
    ) {
        if self.value_is_secret(stack, http) {
            out.push('"');
            out.push_str(self.redacted());
            out.push('"');
            return;
        }
        let before = self.count;
        let decoded = string_content(raw, terminated);
        let redacted = self.embedded(&decoded);
        if self.count == before {
            out.push_str(raw);
        } else {
            let encoded = serde_json::Value::String(redacted).to_string();
            // A string cut by the capture stays open: the text must not look complete.
            out.push_str(if terminated {
                &encoded
            } else {
                &encoded[..encoded.len() - 1]
            });
        }
    }

    fn scalar_value(&mut self, stack: &[Frame<'_>], http: bool, token: &str, out: &mut String) {
        let secret = token != "null" && self.value_is_secret(stack, http);
        // A card number stored as a JSON number is still a card number.
        if secret || (self.rules.values && !value_matches(token).is_empty()) {
            out.push('"');
            out.push_str(self.redacted());
            out.push('"');
        } else {
            out.push_str(token);
        }
    }

    /// A string's content: JSON inside is redacted as JSON, anything else as text.
    /// The text scan over output of the token walk; replacements it only repeats (a value already
    /// `[REDACTED]`) are not counted twice.
    fn rescan(&mut self, walked: String) -> String {
        let before = self.count;
        let scanned = self.text(&walked);
        if scanned == walked {
            self.count = before;
        }
        scanned
    }

    fn embedded(&mut self, text: &str) -> String {
        if self.depth < MAX_EMBEDDED_DEPTH && looks_like_json(text) {
            self.depth += 1;
            let valid = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            let walked = self.json(text, valid, false);
            let out = if valid { walked } else { self.rescan(walked) };
            self.depth -= 1;
            out
        } else {
            self.text(text)
        }
    }

    /// Whether the value starting now (inside `stack`) is to be redacted whole.
    fn value_is_secret(&self, stack: &[Frame<'_>], http: bool) -> bool {
        let Some(parent) = stack.last() else {
            return false;
        };
        if parent.secret {
            return true;
        }
        let key = parent.key.as_deref().filter(|_| parent.is_object);
        if key.is_some_and(|k| self.rules.key_matches(k)) {
            return true;
        }
        let root_key = |depth: usize| {
            stack
                .first()
                .filter(|f| f.is_object && stack.len() == depth)
                .and_then(|f| f.key.as_deref())
        };
        if http
            && (root_key(1) == Some("cookies")
                || (matches!(root_key(2), Some("headers" | "multiValueHeaders"))
                    && key.is_some_and(|k| SENSITIVE_HEADERS.contains(&normalise_key(k).as_str()))))
        {
            return true;
        }
        if self.rules.paths.is_empty() {
            return false;
        }
        let mut path = Vec::with_capacity(stack.len());
        for frame in stack {
            path.push(match (&frame.key, frame.is_object) {
                (Some(key), true) => PathStep::Key(key),
                (None, true) => return false,
                (_, false) => PathStep::Index(frame.index),
            });
        }
        self.rules.path_matches(&path)
    }

    /// Free text: `key=value`, `key: value` and `"key": "value"` pairs with a secret key, and the
    /// value detectors.
    fn text(&mut self, text: &str) -> String {
        let mut ranges = pair_values(text, self.rules);
        if self.rules.values {
            ranges.extend(value_matches(text));
        }
        if ranges.is_empty() {
            return text.to_owned();
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
        out
    }
}

/// Byte ranges of the values of `key=value` / `key: value` / `"key": "value"` pairs whose key
/// matches the rules.
fn pair_values(text: &str, rules: &RedactionRules) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let is_key_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let mut ranges = Vec::new();
    for (sep_at, &sep) in bytes.iter().enumerate() {
        if sep != b'=' && sep != b':' {
            continue;
        }
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
            continue;
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
            Some(b'{' | b'[') | None => continue,
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
        if end > start {
            ranges.push(start..end);
        }
    }
    ranges
}

/// Byte ranges of secret-looking substrings: AWS access key ids, JWTs, bearer tokens, card numbers.
fn value_matches(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        // Digits right after `1 ` or `1-` continue a longer number (an id): not a card on their own.
        let continues_number =
            i >= 2 && matches!(bytes[i - 1], b' ' | b'-') && bytes[i - 2].is_ascii_digit();
        let found = if boundary {
            aws_access_key_len(&bytes[i..])
                .or_else(|| jwt_len(&bytes[i..]))
                .map(|len| i..i + len)
                .or_else(|| bearer_token(bytes, i))
                .or_else(|| {
                    (!continues_number)
                        .then(|| card_number_len(&bytes[i..]))
                        .flatten()
                        .map(|len| i..i + len)
                })
        } else {
            None
        };
        match found {
            Some(range) => {
                i = range.end;
                ranges.push(range);
            }
            None => i += 1,
        }
    }
    ranges
}

/// `AKIA`/`ASIA` + 16 upper-case alphanumerics, not followed by another alphanumeric.
fn aws_access_key_len(s: &[u8]) -> Option<usize> {
    let rest = s
        .strip_prefix(b"AKIA")
        .or_else(|| s.strip_prefix(b"ASIA"))?;
    let body = rest.get(..16)?;
    let ok = body
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && !rest.get(16).is_some_and(u8::is_ascii_alphanumeric);
    ok.then_some(20)
}

/// `eyJ…` `.` `…` `.` `…` in base64url; the signature may be empty (unsecured JWTs).
fn jwt_len(s: &[u8]) -> Option<usize> {
    if !s.starts_with(b"eyJ") {
        return None;
    }
    let segment = |from: usize| {
        s[from..]
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            .map_or(s.len(), |p| from + p)
    };
    let header_end = segment(0);
    if s.get(header_end) != Some(&b'.') {
        return None;
    }
    let payload_end = segment(header_end + 1);
    if payload_end == header_end + 1 || s.get(payload_end) != Some(&b'.') {
        return None;
    }
    Some(segment(payload_end + 1))
}

/// The token range of `Bearer <token>` starting at `at` (case-insensitive scheme).
fn bearer_token(bytes: &[u8], at: usize) -> Option<std::ops::Range<usize>> {
    let scheme = bytes.get(at..at + 7)?;
    if !scheme[..6].eq_ignore_ascii_case(b"bearer") || scheme[6] != b' ' {
        return None;
    }
    let start = at + 7 + bytes[at + 7..].iter().take_while(|&&b| b == b' ').count();
    let len = bytes[start..]
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
        .count();
    (len > 0).then_some(start..start + len)
}

/// 13–19 digits, single spaces or dashes between them, first digit 2–6, passing Luhn, not part
/// of a longer run of digits or letters.
fn card_number_len(s: &[u8]) -> Option<usize> {
    if !matches!(s.first(), Some(b'2'..=b'6')) {
        return None;
    }
    let mut digits = Vec::with_capacity(19);
    let mut end = 0;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            d @ b'0'..=b'9' => {
                digits.push(d - b'0');
                end = i + 1;
                i += 1;
            }
            b' ' | b'-' if s.get(i + 1).is_some_and(u8::is_ascii_digit) && end == i => i += 1,
            _ => break,
        }
    }
    let bounded = !s.get(end).is_some_and(u8::is_ascii_alphanumeric);
    (bounded && (13..=19).contains(&digits.len()) && luhn(&digits)).then_some(end)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            match i % 2 {
                0 => d,
                _ if d * 2 > 9 => d * 2 - 9,
                _ => d * 2,
            }
        })
        .sum();
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{SettingWarning, SettingsGroup};

    fn rules() -> RedactionRules {
        RedactionRules::default()
    }

    fn captured(head: &[u8], complete: bool, rules: &RedactionRules, limit: usize) -> CapturedBody {
        captured_body(&ParsedBody::new(head, complete), rules, limit)
    }

    fn text(s: &str) -> String {
        redact_text(s, &rules()).0
    }

    fn json(s: &str) -> String {
        captured(s.as_bytes(), true, &rules(), 1 << 20).text
    }

    fn with_env(pairs: &[(&str, &str)]) -> (RedactionRules, Vec<SettingWarning>) {
        let (settings, warnings) = RedactionSettings::from_lookup(|k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        });
        (RedactionRules::new(&settings), warnings)
    }

    #[test]
    fn cuts_respect_utf8() {
        assert_eq!(cut_at_char_boundary("héllo".into(), 2), ("h".into(), true));
        assert_eq!(cut_at_char_boundary("abc".into(), 5), ("abc".into(), false));
        assert_eq!(floor_char_boundary("héllo", 2), 1);
        assert_eq!(floor_char_boundary("abc", 9), 3);
    }

    #[test]
    fn aws_access_keys() {
        assert_eq!(text("id AKIAIOSFODNN7EXAMPLE here"), "id [REDACTED] here");
        assert_eq!(text("ASIAY34FZKBOKMUTVV7A"), "[REDACTED]");
        // Too short, too long, lower case, or another prefix: kept.
        for kept in [
            "AKIAIOSFODNN7EXAMPL",
            "AKIAIOSFODNN7EXAMPLEX",
            "AKIAiosfodnn7example",
            "AIDAIENQZJOLO23YVJ4VO",
            "XAKIAIOSFODNN7EXAMPLE",
        ] {
            assert_eq!(text(kept), kept);
        }
    }

    #[test]
    fn jwts() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(text(&format!("t={jwt};")), "t=[REDACTED];");
        assert_eq!(text(&format!("[{jwt}]")), "[[REDACTED]]");
        // Unsecured JWT (empty signature).
        assert_eq!(text("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."), "[REDACTED]");
        for kept in ["eyJhbGciOiJIUzI1NiJ9", "eyJ.", "eyJabc..x", "abc.def.ghi"] {
            assert_eq!(text(kept), kept);
        }
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(text("Bearer abc.def-123"), "Bearer [REDACTED]");
        assert_eq!(text("sent bearer  xyz= ok"), "sent bearer  [REDACTED] ok");
        assert_eq!(text("Bearer"), "Bearer");
        assert_eq!(text("Bearers only"), "Bearers only");
    }

    #[test]
    fn card_numbers() {
        assert_eq!(text("card 4111 1111 1111 1111 exp"), "card [REDACTED] exp");
        assert_eq!(text("4111-1111-1111-1111"), "[REDACTED]");
        assert_eq!(text("5500005555555559"), "[REDACTED]");
        assert_eq!(text("amex 378282246310005."), "amex [REDACTED].");
        for kept in [
            // Fails Luhn.
            "4111111111111112",
            "4111 1111 1111 1112",
            // Phone numbers, UUIDs, timestamps, long ids.
            "+1 555-123-4567",
            "+44 20 7946 0958",
            "059f36b4-87a3-44ab-83d2-661975830a7d",
            "12345678-1234-1234-1234-123456789012",
            "1583348638390",
            "49590338271490256608559692538361571095921575989136588898",
            // Double separators, letters around.
            "4111  1111 1111 1111",
            "x4111111111111111",
            "4111111111111111x",
            "12-4111-1111-1111-1111",
        ] {
            assert_eq!(text(kept), kept, "{kept}");
        }
    }

    #[test]
    fn luhn_check() {
        assert!(luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
        assert!(!luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
    }

    #[test]
    fn key_normalisation() {
        let rules = rules();
        for key in [
            "api_key",
            "X-Api-Key",
            "apiKey",
            "API KEY",
            "Authorization",
            "user_password",
            "refreshToken",
            "cookies",
            "AWS_SECRET_ACCESS_KEY",
            "sessionId",
        ] {
            assert!(rules.key_matches(key), "{key}");
        }
        for key in ["authorizer", "routeKey", "partitionKey", "name", "", "-_ "] {
            assert!(!rules.key_matches(key), "{key}");
        }
    }

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

    #[test]
    fn json_keys_nested_and_kept_structure() {
        assert_eq!(
            json(
                r#"{ "user": "bob", "Password": "p", "creds": 1, "credentials": {"id": "a", "n": [1, null, true]} }"#
            ),
            r#"{"user":"bob","Password":"[REDACTED]","creds":1,"credentials":{"id":"[REDACTED]","n":["[REDACTED]",null,"[REDACTED]"]}}"#
        );
    }

    #[test]
    fn values_inside_strings_keep_the_rest() {
        assert_eq!(
            json(r#"{"note":"card 4111 1111 1111 1111 exp","n":4111111111111111}"#),
            r#"{"note":"card [REDACTED] exp","n":"[REDACTED]"}"#
        );
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
    fn text_that_only_starts_like_json_is_still_scanned() {
        let rules = RedactionRules::default();
        for (input, secret) in [
            ("[INFO] login password=hunter2 ok", "hunter2"),
            (
                r#"{"Records":[{"body":"[WARN] token=abc123 user=x"}]}"#,
                "abc123",
            ),
            (r#"{"a":"b","password":"hunter2","c":"#, "hunter2"),
        ] {
            let out = captured(input.as_bytes(), false, &rules, 4096);
            assert!(!out.text.contains(secret), "{input} -> {}", out.text);
        }
    }

    #[test]
    fn embedded_json_and_query_strings() {
        let event = r#"{"body":"{\"password\":\"x\",\"a\":1}","q":"a=1&token=abc"}"#;
        assert_eq!(
            json(event),
            r#"{"body":"{\"password\":\"[REDACTED]\",\"a\":1}","q":"a=1&token=[REDACTED]"}"#
        );
    }

    #[test]
    fn paths_with_arrays() {
        let (rules, warnings) = with_env(&[(
            "LAMBDA_LENS_REDACT_PATHS",
            "$.body.card.number, detail.user.ssn,items[*].pin,list[1],*.x",
        )]);
        assert!(warnings.is_empty(), "{warnings:?}");
        let event = r#"{"body":{"card":{"number":"n","brand":"v"}},"detail":{"user":{"ssn":"1","name":"a"}},"items":[{"pin":1},{"pin":2,"q":3}],"list":[0,1,2],"o":{"x":{"deep":1}}}"#;
        assert_eq!(
            captured(event.as_bytes(), true, &rules, 4096).text,
            r#"{"body":{"card":{"number":"[REDACTED]","brand":"v"}},"detail":{"user":{"ssn":"[REDACTED]","name":"a"}},"items":[{"pin":"[REDACTED]"},{"pin":"[REDACTED]","q":3}],"list":[0,"[REDACTED]",2],"o":{"x":{"deep":"[REDACTED]"}}}"#
        );
    }

    #[test]
    fn headers_floor_when_keys_are_replaced() {
        let (rules, _) = with_env(&[("LAMBDA_LENS_REDACT_KEYS", "ssn")]);
        let event = r#"{"httpMethod":"GET","resource":"/","headers":{"Authorization":"Basic x","Accept":"a"},"multiValueHeaders":{"Cookie":["a=1","b=2"]},"cookies":["c=3"]}"#;
        assert_eq!(
            captured(event.as_bytes(), true, &rules, 4096).text,
            r#"{"httpMethod":"GET","resource":"/","headers":{"Authorization":"[REDACTED]","Accept":"a"},"multiValueHeaders":{"Cookie":["[REDACTED]","[REDACTED]"]},"cookies":["[REDACTED]"]}"#
        );
        // Not HTTP-shaped: the same fields are ordinary data.
        let other = r#"{"headers":{"Authorization":"x"},"cookies":["c"]}"#;
        assert_eq!(captured(other.as_bytes(), true, &rules, 4096).text, other);
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
