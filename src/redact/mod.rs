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
//! - **Base64 bodies**: the root `body` of an event or response that says `"isBase64Encoded": true`
//!   (API Gateway, ALB and function URL requests with a form or binary body, proxy-integration
//!   responses) is decoded, bounded by the capture, and redacted as the payload it holds: JSON,
//!   text, a form (`application/x-www-form-urlencoded` fields and `multipart/form-data` parts whose
//!   name names a secret), or bytes whose lossy reading shows a secret. When anything was
//!   redacted, the body is exported as the base64 of the redacted payload, so the event still says
//!   what it is; otherwise as it came. A head cut before the flag reads a root `body` that decodes
//!   as base64 as one. Base64 elsewhere (Kinesis and Kafka record data) is not decoded.
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
//!
//! Files: `rules` (what is a secret), `captured` (the captured form), `walk` (the JSON walk), `text`
//! (the text scan), `values` (the value detectors), `base64_body` (base64 bodies), `form` (form
//! posts in a decoded body).

mod base64_body;
mod captured;
mod form;
mod rewrite;
mod rules;
mod text;
mod values;
mod walk;

use std::borrow::Cow;

pub use self::captured::{
    captured_body, BodyEncoding, CapturedBody, BASE64_PREFIX, TRUNCATION_MARKER,
};
pub(crate) use self::captured::{cut_at_char_boundary, floor_char_boundary};
pub(crate) use self::rules::normalise_key;
pub use self::rules::{RedactionRules, DEFAULT_KEYS};
pub use self::text::redact_text;
use crate::event::ParsedBody;

/// What replaces a redacted value or substring.
pub const REDACTED: &str = "[REDACTED]";

/// One redaction pass over a body: the rules it applies and how many replacements it made.
struct Redactor<'r> {
    rules: &'r RedactionRules,
    /// The captured event or response being redacted, whose root `body` may be base64; `None` for
    /// free text and for a decoded payload (a base64 body is decoded once, at the root only).
    event: Option<&'r ParsedBody<'r>>,
    count: u32,
    /// Nesting of JSON found inside string values.
    depth: u8,
}

impl<'r> Redactor<'r> {
    fn new(rules: &'r RedactionRules, event: Option<&'r ParsedBody<'r>>) -> Self {
        Self {
            rules,
            event,
            count: 0,
            depth: 0,
        }
    }

    fn redacted(&mut self) -> &'static str {
        self.count = self.count.saturating_add(1);
        REDACTED
    }

    /// The text scan over output of the token walk; replacements it only repeats (a value already
    /// `[REDACTED]`) are not counted twice.
    fn rescan<'t>(&mut self, walked: Cow<'t, str>) -> Cow<'t, str> {
        let before = self.count;
        let scanned = match self.text(&walked) {
            Cow::Borrowed(_) => None,
            Cow::Owned(scanned) => Some(scanned),
        };
        let Some(scanned) = scanned else {
            return walked;
        };
        if scanned == walked {
            self.count = before;
        }
        Cow::Owned(scanned)
    }
}

/// Helpers of the submodules' tests.
#[cfg(test)]
mod testing {
    use super::*;

    pub(super) fn rules() -> RedactionRules {
        RedactionRules::default()
    }

    pub(super) fn captured(
        head: &[u8],
        complete: bool,
        rules: &RedactionRules,
        limit: usize,
    ) -> CapturedBody {
        captured_body(&ParsedBody::new(head, complete), rules, limit)
    }

    pub(super) fn text(s: &str) -> String {
        redact_text(s, &rules()).0.into_owned()
    }
}
