//! The JSON walk: JSON text, whole or cut anywhere by the capture, copied token by token with the
//! values under secret keys, at configured paths and in the sensitive headers of HTTP-shaped events
//! replaced; string values are unpacked when they hold JSON and scanned as text otherwise.

use std::borrow::Cow;

use smallvec::SmallVec;

use super::base64_body::Base64Body;
use super::rewrite::Rewrite;
use super::rules::{normalised_eq, SENSITIVE_HEADERS};
use super::values::value_matches;
use super::Redactor;
use crate::event::Source;
use crate::json::scan::{string_content, Container, Token, Tokens};
use crate::json::PathStep;

/// Nesting of JSON inside string values that is still unpacked; deeper strings get the text scan.
const MAX_EMBEDDED_DEPTH: u8 = 3;

/// Open containers kept on the stack: deeper nesting, rare in events, moves the frames to the heap.
const INLINE_FRAMES: usize = 8;

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

impl Redactor<'_> {
    /// Walks JSON text token by token, so a head cut anywhere is still handled, and copies it with
    /// secret values replaced (borrowed when nothing changes). `compact` drops the whitespace
    /// between tokens (valid JSON only: in a damaged head, whitespace may be part of something that
    /// is not JSON).
    pub(super) fn json<'t>(
        &mut self,
        text: &'t str,
        compact: bool,
        header_floor: bool,
    ) -> Cow<'t, str> {
        let mut out = Rewrite::new(text);
        let mut stack: SmallVec<[Frame<'_>; INLINE_FRAMES]> = SmallVec::new();
        for (token, range) in Tokens::new(text.as_bytes()) {
            let end = range.end;
            let raw = &text[range];
            match token {
                Token::Whitespace => {
                    if compact {
                        out.replace(end);
                    } else {
                        out.keep(end);
                    }
                }
                Token::Open(container) => {
                    let secret = self.value_is_secret(&stack, header_floor);
                    stack.push(Frame {
                        key: None,
                        index: 0,
                        is_object: container == Container::Object,
                        secret,
                    });
                    out.keep(end);
                }
                Token::Close => {
                    stack.pop();
                    out.keep(end);
                }
                Token::Comma => {
                    if let Some(frame) = stack.last_mut() {
                        frame.index += 1;
                        frame.key = None;
                    }
                    out.keep(end);
                }
                Token::Colon => out.keep(end),
                Token::Key { terminated } => {
                    if let Some(frame) = stack.last_mut() {
                        frame.key = Some(string_content(raw, terminated));
                    }
                    out.keep(end);
                }
                Token::String { terminated } => {
                    self.string_value(&stack, header_floor, raw, terminated, end, &mut out);
                }
                Token::Scalar => self.scalar_value(&stack, header_floor, raw, end, &mut out),
            }
        }
        out.finish()
    }

    fn string_value(
        &mut self,
        stack: &[Frame<'_>],
        header_floor: bool,
        raw: &str,
        terminated: bool,
        end: usize,
        out: &mut Rewrite<'_>,
    ) {
        if self.value_is_secret(stack, header_floor) {
            let redacted = self.redacted();
            let out = out.replace(end);
            out.push('"');
            out.push_str(redacted);
            out.push('"');
            return;
        }
        // The root `body` of an event or a response may be base64 (`isBase64Encoded`).
        let root_body = self.depth == 0
            && matches!(stack, [root] if root.is_object && root.key.as_deref() == Some("body"));
        if root_body {
            match self.base64_body(raw, terminated) {
                Base64Body::NotBase64 => {}
                Base64Body::Kept => return out.keep(end),
                Base64Body::Replaced(text) => return out.replace(end).push_str(&text),
            }
        }
        let before = self.count;
        let decoded = string_content(raw, terminated);
        let redacted = self.embedded(&decoded);
        if self.count == before {
            out.keep(end);
        } else {
            let encoded = serde_json::Value::String(redacted.into_owned()).to_string();
            // A string cut by the capture stays open: the text must not look complete.
            out.replace(end).push_str(if terminated {
                &encoded
            } else {
                &encoded[..encoded.len() - 1]
            });
        }
    }

    fn scalar_value(
        &mut self,
        stack: &[Frame<'_>],
        header_floor: bool,
        token: &str,
        end: usize,
        out: &mut Rewrite<'_>,
    ) {
        let secret = token != "null" && self.value_is_secret(stack, header_floor);
        // A card number stored as a JSON number is still a card number.
        if secret || (self.rules.values && value_matches(token).next().is_some()) {
            let redacted = self.redacted();
            let out = out.replace(end);
            out.push('"');
            out.push_str(redacted);
            out.push('"');
        } else {
            out.keep(end);
        }
    }

    /// A string's content: JSON inside is redacted as JSON, anything else as text (borrowed when
    /// nothing was replaced).
    fn embedded<'t>(&mut self, text: &'t str) -> Cow<'t, str> {
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
    fn value_is_secret(&self, stack: &[Frame<'_>], header_floor: bool) -> bool {
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
        if header_floor
            && (root_key(1) == Some("cookies")
                || (matches!(root_key(2), Some("headers" | "multiValueHeaders"))
                    && key.is_some_and(|k| {
                        SENSITIVE_HEADERS.iter().any(|name| normalised_eq(k, name))
                    })))
            && self.event.is_some_and(|body| body.source() == Source::Http)
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
}

pub(super) fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

#[cfg(test)]
mod tests {
    use crate::redact::testing::{captured, rules};
    use crate::redact::RedactionRules;
    use crate::settings::{RedactionSettings, SettingWarning, SettingsGroup};

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
}
