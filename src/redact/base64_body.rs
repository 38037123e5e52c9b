//! Base64 bodies: API Gateway (REST and HTTP APIs, WebSocket), ALB and function URL events carry a
//! binary or form body as a base64 string with `"isBase64Encoded": true`, and so do the
//! proxy-integration responses a function returns. The walk hands such a root `body` here.
//!
//! The string is decoded, bounded by what the capture holds: a whole string entirely, a cut one up
//! to its last complete 4-character quantum. The decoded bytes are redacted as the payload they are
//! (JSON, text, a form, or bytes whose lossy reading holds a secret). When anything was redacted,
//! the redacted payload (UTF-8, invalid bytes as U+FFFD) is encoded again, so the event stays what
//! it was: a base64 body that says so. Otherwise a whole string is kept as it came, and a cut one
//! is kept up to its last complete quantum (the characters past it hold part of a byte that was
//! never captured whole, perhaps the first byte of a secret).
//!
//! Which bodies: the document's own `isBase64Encoded` decides. When the head was cut before the
//! flag (it follows `body` in the events AWS sends), a body that decodes as base64 is read as one.
//! A string that is not base64 is redacted as any other string.

use std::borrow::Cow;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde_json::Value;

use super::captured::Reading;
use super::Redactor;
use crate::event::ParsedBody;
use crate::json::scan::string_content;

/// The standard alphabet with padding optional and trailing bits tolerated: redaction reads what
/// is there, it does not validate.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// What the document says of its root `body`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    /// `"isBase64Encoded": true`.
    Base64,
    /// The flag is something else, or a whole document has none.
    Plain,
    /// The flag is not in the head: cut, or the document does not parse.
    Unknown,
}

impl Flag {
    fn of(event: &ParsedBody<'_>) -> Self {
        match event.value().and_then(|value| value.get("isBase64Encoded")) {
            Some(Value::Bool(true)) => Self::Base64,
            Some(_) => Self::Plain,
            None if event.complete() && event.is_whole_json() => Self::Plain,
            None => Self::Unknown,
        }
    }
}

/// What became of a root `body` string handed to [`Redactor::base64_body`].
pub(super) enum Base64Body {
    /// Not a base64 body: it is redacted as any other string.
    NotBase64,
    /// A base64 body kept as it came.
    Kept,
    /// A base64 body, written anew (redacted, or a cut one up to its last complete quantum).
    Replaced(String),
}

impl Redactor<'_> {
    /// The root `body` string `raw` as a base64 body (see the module documentation).
    pub(super) fn base64_body(&mut self, raw: &str, terminated: bool) -> Base64Body {
        let Some(event) = self.event else {
            return Base64Body::NotBase64;
        };
        if Flag::of(event) == Flag::Plain {
            return Base64Body::NotBase64;
        }
        let content = string_content(raw, terminated);
        let flagged = Flag::of(event) == Flag::Base64;
        let Some(decoded) = decode(&content, terminated, flagged) else {
            return Base64Body::NotBase64;
        };
        let mut payload = Redactor::new(self.rules, None);
        let encoded = match payload.read(&decoded, terminated) {
            Reading::Json(text) | Reading::Text(text) if payload.count > 0 => {
                self.count = self.count.saturating_add(payload.count);
                STANDARD.encode(text.as_bytes())
            }
            _ if terminated => return Base64Body::Kept,
            _ => STANDARD.encode(&decoded),
        };
        let mut out = String::with_capacity(encoded.len() + 2);
        out.push('"');
        out.push_str(&encoded);
        // A string cut by the capture stays open: the text must not look complete.
        if terminated {
            out.push('"');
        }
        Base64Body::Replaced(out)
    }
}

/// The bytes a base64 string holds: all of a whole string; of a cut one, its complete quanta.
/// `None` when it is not base64. A body the document says is base64 (`flagged`) may be broken
/// into lines (MIME-style, as Python's `base64.encodebytes` and Java's MIME encoder write it): its
/// line breaks carry nothing. Only line breaks: flagged text with spaces (`4111 1111 …`) must stay
/// text, which the text scan reads. Without the flag (a head cut before it), a line break still
/// means text.
fn decode(content: &str, terminated: bool, flagged: bool) -> Option<Vec<u8>> {
    if !content.is_ascii() {
        return None;
    }
    let line_break = |c: char| c == '\r' || c == '\n';
    let content: Cow<'_, str> = if flagged && content.contains(line_break) {
        Cow::Owned(content.chars().filter(|c| !line_break(*c)).collect())
    } else {
        Cow::Borrowed(content)
    };
    let quanta = if terminated {
        &content[..]
    } else {
        &content[..content.len() / 4 * 4]
    };
    LENIENT.decode(quanta).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::testing::{captured, rules};
    use crate::redact::{BodyEncoding, CapturedBody};

    const PNG_HEAD: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

    /// An HTTP API (v2) request with `payload` as its base64 body, the flag after it as AWS sends.
    fn request(payload: &[u8], flag: bool) -> String {
        format!(
            r#"{{"rawPath":"/login","routeKey":"POST /login","headers":{{"content-type":"x"}},"body":"{}","isBase64Encoded":{flag}}}"#,
            STANDARD.encode(payload)
        )
    }

    fn capture(event: &str) -> CapturedBody {
        captured(event.as_bytes(), true, &rules(), 1 << 20)
    }

    /// The decoded `body` of a captured event: its complete quanta, and the bytes a partial last
    /// quantum holds (none may leave).
    fn body_of(text: &str) -> Vec<u8> {
        let value = text.split(r#""body":""#).nth(1).expect("a body");
        let b64: String = value
            .chars()
            .take_while(|c| *c != '"' && *c != '…')
            .collect();
        let usable = if b64.len() % 4 == 1 {
            &b64[..b64.len() - 1]
        } else {
            &b64[..]
        };
        LENIENT.decode(usable).expect("base64")
    }

    #[test]
    fn form_posts_lose_their_secrets() {
        let out = capture(&request(b"user=bob&password=hunter2&remember=1", true));
        assert_eq!((out.encoding, out.redactions), (BodyEncoding::Json, 1));
        assert_eq!(
            body_of(&out.text),
            b"user=bob&password=[REDACTED]&remember=1"
        );
        // Encoded names and values the plain scan cannot read.
        let out = capture(&request(
            b"user%5Bpassword%5D=p%40ss&auth=Bearer+abc.def&card=4111+1111+1111+1111&q=a+b",
            true,
        ));
        assert_eq!(
            String::from_utf8(body_of(&out.text)).unwrap(),
            "user%5Bpassword%5D=[REDACTED]&auth=[REDACTED]&card=[REDACTED]&q=a+b"
        );
    }

    #[test]
    fn json_payloads_are_redacted_as_json() {
        let out = capture(&request(br#"{"token": "abc123", "user": "bob"}"#, true));
        assert_eq!(out.redactions, 1);
        assert_eq!(
            body_of(&out.text),
            br#"{"token":"[REDACTED]","user":"bob"}"#
        );
    }

    #[test]
    fn clean_and_binary_bodies_are_kept_as_they_came() {
        let mut png = PNG_HEAD.to_vec();
        png.extend((0..=255u8).rev());
        for payload in [&png[..], b"user=bob&remember=1", b""] {
            let event = request(payload, true);
            let out = capture(&event);
            assert_eq!((out.text.as_str(), out.redactions), (event.as_str(), 0));
        }
        // A binary body whose lossy reading holds a secret (a PNG text chunk) is redacted.
        let mut png = PNG_HEAD.to_vec();
        png.extend(b"\0\0\0\x17tEXtComment\0password=hunter2\xff\xfe");
        let out = capture(&request(&png, true));
        assert_eq!(out.redactions, 1);
        let body = String::from_utf8(body_of(&out.text)).unwrap();
        assert!(body.ends_with("tEXtComment\0password=[REDACTED]"), "{body}");
    }

    #[test]
    fn only_base64_bodies_are_decoded() {
        // The flag says plain text: the body is text that happens to be base64.
        let plain = request(b"password=hunter2", false);
        assert_eq!(capture(&plain).text, plain);
        // Flagged but not base64: redacted as text.
        let event = r#"{"rawPath":"/","rawQueryString":"","body":"password=hunter2","isBase64Encoded":true}"#;
        let out = capture(event);
        assert!(
            out.text.contains(r#""body":"password=[REDACTED]""#),
            "{}",
            out.text
        );
        // Only the root body: nested ones are other data.
        let nested = format!(
            r#"{{"detail":{{"body":"{}"}},"isBase64Encoded":true}}"#,
            STANDARD.encode("password=hunter2")
        );
        assert_eq!(capture(&nested).text, nested);
    }

    #[test]
    fn cut_bodies_decode_up_to_their_last_quantum() {
        let payload = b"user=bob&password=hunter2&note=a-longer-tail-to-cut-inside";
        let event = request(payload, true);
        let body_at = event.find(r#""body":""#).unwrap() + 8;
        for cut in body_at..event.len() {
            let out = captured(&event.as_bytes()[..cut], false, &rules(), 1 << 20);
            let body = body_of(&out.text);
            let text = String::from_utf8_lossy(&body);
            assert!(!text.contains("password=h"), "cut {cut}: {text}");
            assert!(out.truncated && out.text.ends_with(crate::redact::TRUNCATION_MARKER));
        }
        // The flag before the body (the order is the function's for responses): known, not guessed.
        let head = format!(
            r#"{{"isBase64Encoded":true,"body":"{}"#,
            STANDARD.encode(b"password=hunter2")
        );
        let out = captured(&head.as_bytes()[..head.len() - 2], false, &rules(), 1 << 20);
        assert_eq!(body_of(&out.text), b"password=[REDACTED]");
    }

    #[test]
    fn responses_are_redacted_too() {
        let response = format!(
            r#"{{"statusCode":200,"headers":{{"Content-Type":"application/json"}},"body":"{}","isBase64Encoded":true}}"#,
            STANDARD.encode(
                r#"{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln","expires_in":3600}"#
            )
        );
        let out = capture(&response);
        assert_eq!(out.redactions, 1);
        assert_eq!(
            body_of(&out.text),
            br#"{"access_token":"[REDACTED]","expires_in":3600}"#
        );
    }

    #[test]
    fn line_wrapped_base64_bodies_lose_their_secrets_too() {
        // MIME-style base64 (Python's `base64.encodebytes`, Java's MIME encoder): a line break
        // every 76 characters, escaped as `\n` in the JSON string.
        let payload =
            "user=bob&remember=1&note=a-note-long-enough-to-wrap-the-encoding&password=hunter2";
        let wrapped: String = STANDARD
            .encode(payload)
            .as_bytes()
            .chunks(76)
            .map(|line| format!("{}\\n", std::str::from_utf8(line).unwrap()))
            .collect();
        let response = format!(
            r#"{{"statusCode":200,"headers":{{"Content-Type":"application/x-www-form-urlencoded"}},"body":"{wrapped}","isBase64Encoded":true}}"#
        );
        let out = capture(&response);
        assert_eq!(out.redactions, 1, "{}", out.text);
        let redacted = body_of(&out.text);
        assert_eq!(
            String::from_utf8_lossy(&redacted),
            "user=bob&remember=1&note=a-note-long-enough-to-wrap-the-encoding&password=[REDACTED]"
        );
    }

    #[test]
    fn flagged_text_with_spaces_is_still_redacted_as_text() {
        // Flagged, but text: its spaces are no line breaks of a wrapped encoding. Without them its
        // characters happen to be base64 (a length of 16 and 20), which decodes to noise.
        for (body, redacted) in [
            ("4111 1111 1111 1111", "[REDACTED]"),
            ("Bearer abc123def456gh", "Bearer [REDACTED]"),
        ] {
            let event = format!(
                r#"{{"rawPath":"/","rawQueryString":"","body":"{body}","isBase64Encoded":true}}"#
            );
            let out = capture(&event);
            assert!(
                out.text.contains(&format!(r#""body":"{redacted}""#)),
                "{}",
                out.text
            );
        }
    }
}
