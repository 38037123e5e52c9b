//! A resumable JSON scanner for a body read chunk by chunk as it streams past (an event the proxy
//! relays): it keeps the path to the current value (`Records[3].messageAttributes.traceparent`)
//! and tells a [`Visitor`] where each value starts, the text of the values it asks for, and where
//! each container ends — without ever holding the body.
//!
//! Chunks may end anywhere: inside a string, an escape, a number or between tokens; the state
//! carries over to the next [`Scanner::feed`]. Memory is fixed when the scanner is made: the path
//! of at most [`TRACKED_DEPTH`] containers with keys of at most [`KEY_LIMIT`] bytes, and one text
//! buffer of [`TEXT_LIMIT`] bytes. A container deeper than that, or one the visitor does not want,
//! is skipped whole by counting brackets (no stack grows with nesting), and long strings are
//! skipped with `memchr`, never copied.
//!
//! Like the lexical layer ([`crate::json::scan`]) it is lenient where leniency cannot derail the
//! path: scalars are runs of letters, digits, `+`, `-` and `.`, and an escape is any byte after a
//! backslash. What would derail it (a value where a key belongs, a missing colon or comma, a
//! closer that does not match) stops the scan for good ([`Outcome::Malformed`]); whatever the
//! visitor was told before stays told.

use std::borrow::Cow;

use crate::json::scan::{is_whitespace, string_content, Container};
use crate::json::PathStep;

/// Containers whose keys and indexes the path holds; a container that opens deeper is skipped
/// whole (the visitor sees it start and end, nothing inside).
pub const TRACKED_DEPTH: usize = 16;

/// Bytes of an object key the path keeps; a longer key is cut at a character boundary, so it can
/// only match a wildcard, never a named key (those are all shorter).
pub const KEY_LIMIT: usize = 64;

/// Bytes of a value's text (as written between its quotes, escapes included) the visitor can
/// have; a longer value is reported as `None`.
pub const TEXT_LIMIT: usize = 512;

/// What kind of value starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `{ … }`.
    Object,
    /// `[ … ]`.
    Array,
    /// `"…"`.
    String,
    /// A number, `true`, `false` or `null`.
    Scalar,
}

/// What the scanner tells as it reads.
pub trait Visitor {
    /// A value of `kind` starts at `path` (outermost step first; the root value has an empty
    /// path). Returns whether it is wanted: for a string or scalar, its text (then
    /// [`Visitor::text`] follows); for a container, what it holds (an unwanted container is
    /// skipped to its end).
    fn value(&mut self, path: &[PathStep<'_>], kind: ValueKind) -> bool;

    /// The text of the string or scalar last wanted: a string decoded, a scalar as written; `None`
    /// when it is longer than [`TEXT_LIMIT`] or not UTF-8. A value the input ends inside is never
    /// reported.
    fn text(&mut self, text: Option<&str>);

    /// The container whose path had `depth` steps ended.
    fn close(&mut self, depth: usize);
}

/// How far the input made sense when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// One complete JSON value, nothing after it but whitespace.
    Complete,
    /// The input ended inside the value (or was empty).
    Cut,
    /// The input stopped being JSON; the scan stopped there.
    Malformed,
}

/// One open container on the path.
#[derive(Debug)]
struct Frame {
    container: Container,
    /// The current member's key (objects), cut to [`KEY_LIMIT`] bytes.
    key: String,
    /// The current element's index (arrays).
    index: usize,
}

/// Where the scanner is between two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A value must start: at the root, after `:`, after `,` in an array.
    Value,
    /// Just after `[`: a value or `]`.
    ValueOrClose,
    /// Just after `{`: a key or `}`.
    KeyOrClose,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value inside a container: `,` or the container's closer.
    CommaOrClose,
    /// After the root value: only whitespace may follow.
    End,
    /// Inside a string; `escaped`: the previous byte was an unpaired backslash.
    String { key: bool, escaped: bool },
    /// Inside a scalar.
    Scalar,
    /// Skipping a container whole: `depth` brackets are open, possibly inside a string.
    Skip {
        depth: usize,
        in_string: bool,
        escaped: bool,
    },
    /// Not JSON any more.
    Failed,
}

/// The scanner; one per body.
#[derive(Debug)]
pub struct Scanner {
    /// [`TRACKED_DEPTH`] frames, made once; the first `depth` are open.
    frames: Vec<Frame>,
    depth: usize,
    state: State,
    /// The current key's or wanted value's raw text (a string with its quotes).
    text: Vec<u8>,
    /// Whether the current token's text is kept.
    capturing: bool,
    /// Whether the current token's text went past what `text` keeps.
    overflow: bool,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    /// A scanner at the start of a body.
    pub fn new() -> Self {
        let frames = (0..TRACKED_DEPTH)
            .map(|_| Frame {
                container: Container::Object,
                key: String::with_capacity(KEY_LIMIT),
                index: 0,
            })
            .collect();
        Self {
            frames,
            depth: 0,
            state: State::Value,
            // Room for the quotes around a string's text.
            text: Vec::with_capacity(TEXT_LIMIT + 2),
            capturing: false,
            overflow: false,
        }
    }

    /// Reads the next bytes of the body.
    pub fn feed(&mut self, bytes: &[u8], visitor: &mut impl Visitor) {
        let mut at = 0;
        while at < bytes.len() {
            at = match self.state {
                State::Failed => return,
                State::String { key, escaped } => self.string(bytes, at, key, escaped, visitor),
                State::Scalar => self.scalar(bytes, at, visitor),
                State::Skip {
                    depth,
                    in_string,
                    escaped,
                } => self.skip(bytes, at, depth, in_string, escaped, visitor),
                _ => at + usize::from(self.structural(bytes[at], visitor)),
            };
        }
    }

    /// How far the input read so far makes sense.
    pub fn outcome(&self) -> Outcome {
        match self.state {
            State::End => Outcome::Complete,
            State::Scalar if self.depth == 0 => Outcome::Complete,
            State::Failed => Outcome::Malformed,
            _ => Outcome::Cut,
        }
    }

    /// A byte between tokens; returns whether it was consumed (a scalar's first byte is read
    /// again as part of the scalar).
    fn structural(&mut self, byte: u8, visitor: &mut impl Visitor) -> bool {
        if is_whitespace(byte) {
            return true;
        }
        match (self.state, byte) {
            (State::ValueOrClose, b']') | (State::KeyOrClose, b'}') => self.close(visitor),
            (State::Value | State::ValueOrClose, _) => return self.begin_value(byte, visitor),
            (State::KeyOrClose | State::Key, b'"') => {
                self.begin_text(true);
                self.keep(b"\"");
                self.state = State::String {
                    key: true,
                    escaped: false,
                };
            }
            (State::Colon, b':') => self.state = State::Value,
            (State::CommaOrClose, b',') => self.next_member(),
            (State::CommaOrClose, b'}' | b']') if Some(byte) == self.closer() => {
                self.close(visitor)
            }
            _ => self.state = State::Failed,
        }
        true
    }

    fn begin_value(&mut self, byte: u8, visitor: &mut impl Visitor) -> bool {
        let kind = match byte {
            b'{' => ValueKind::Object,
            b'[' => ValueKind::Array,
            b'"' => ValueKind::String,
            b if is_scalar_byte(b) => ValueKind::Scalar,
            _ => {
                self.state = State::Failed;
                return true;
            }
        };
        let mut steps = [PathStep::Index(0); TRACKED_DEPTH];
        for (step, frame) in steps.iter_mut().zip(&self.frames[..self.depth]) {
            *step = match frame.container {
                Container::Object => PathStep::Key(&frame.key),
                Container::Array => PathStep::Index(frame.index),
            };
        }
        let wanted = visitor.value(&steps[..self.depth], kind);
        match kind {
            ValueKind::Object => self.open(Container::Object, wanted),
            ValueKind::Array => self.open(Container::Array, wanted),
            ValueKind::String => {
                self.begin_text(wanted);
                self.keep(b"\"");
                self.state = State::String {
                    key: false,
                    escaped: false,
                };
            }
            ValueKind::Scalar => {
                self.begin_text(wanted);
                self.state = State::Scalar;
                return false;
            }
        }
        true
    }

    fn open(&mut self, container: Container, wanted: bool) {
        if !wanted || self.depth == TRACKED_DEPTH {
            self.state = State::Skip {
                depth: 1,
                in_string: false,
                escaped: false,
            };
            return;
        }
        let frame = &mut self.frames[self.depth];
        frame.container = container;
        frame.key.clear();
        frame.index = 0;
        self.depth += 1;
        self.state = match container {
            Container::Object => State::KeyOrClose,
            Container::Array => State::ValueOrClose,
        };
    }

    /// The closer of the innermost open container.
    fn closer(&self) -> Option<u8> {
        let top = self.depth.checked_sub(1)?;
        Some(match self.frames[top].container {
            Container::Object => b'}',
            Container::Array => b']',
        })
    }

    fn next_member(&mut self) {
        let frame = &mut self.frames[self.depth - 1];
        self.state = match frame.container {
            Container::Object => State::Key,
            Container::Array => {
                frame.index += 1;
                State::Value
            }
        };
    }

    /// The innermost open container ended (a tracked one, or the one being skipped, which was
    /// never pushed).
    fn close(&mut self, visitor: &mut impl Visitor) {
        if !matches!(self.state, State::Skip { .. }) {
            self.depth -= 1;
        }
        visitor.close(self.depth);
        self.after_value();
    }

    fn after_value(&mut self) {
        self.state = if self.depth == 0 {
            State::End
        } else {
            State::CommaOrClose
        };
    }

    fn begin_text(&mut self, capturing: bool) {
        self.capturing = capturing;
        self.overflow = false;
        self.text.clear();
    }

    /// Keeps `bytes` of the current token's text, up to the limit (plus a string's quotes).
    fn keep(&mut self, bytes: &[u8]) {
        if !self.capturing {
            return;
        }
        let room = (TEXT_LIMIT + 2).saturating_sub(self.text.len());
        if bytes.len() > room {
            self.overflow = true;
        }
        self.text.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    fn string(
        &mut self,
        bytes: &[u8],
        at: usize,
        key: bool,
        escaped: bool,
        visitor: &mut impl Visitor,
    ) -> usize {
        if escaped {
            self.keep(&bytes[at..=at]);
            self.state = State::String {
                key,
                escaped: false,
            };
            return at + 1;
        }
        let rest = &bytes[at..];
        let Some(stop) = memchr::memchr2(b'"', b'\\', rest) else {
            self.keep(rest);
            return bytes.len();
        };
        self.keep(&rest[..=stop]);
        if rest[stop] == b'\\' {
            self.state = State::String { key, escaped: true };
        } else if key {
            let top = self.depth - 1;
            set_key(&self.text, self.overflow, &mut self.frames[top].key);
            self.state = State::Colon;
        } else {
            if self.capturing {
                let text =
                    value_text(&self.text, self.overflow).map(|raw| string_content(raw, true));
                visitor.text(text.as_deref());
            }
            self.after_value();
        }
        at + stop + 1
    }

    fn scalar(&mut self, bytes: &[u8], at: usize, visitor: &mut impl Visitor) -> usize {
        let rest = &bytes[at..];
        let Some(end) = rest.iter().position(|&b| !is_scalar_byte(b)) else {
            self.keep(rest);
            return bytes.len();
        };
        self.keep(&rest[..end]);
        if self.capturing {
            visitor.text(value_text(&self.text, self.overflow));
        }
        self.after_value();
        // The byte that ended the scalar is read again in the new state.
        at + end
    }

    fn skip(
        &mut self,
        bytes: &[u8],
        mut at: usize,
        mut depth: usize,
        mut in_string: bool,
        mut escaped: bool,
        visitor: &mut impl Visitor,
    ) -> usize {
        while at < bytes.len() {
            if escaped {
                escaped = false;
                at += 1;
            } else if in_string {
                let Some(stop) = memchr::memchr2(b'"', b'\\', &bytes[at..]) else {
                    at = bytes.len();
                    break;
                };
                at += stop;
                escaped = bytes[at] == b'\\';
                in_string = escaped;
                at += 1;
            } else {
                match bytes[at] {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            self.close(visitor);
                            return at + 1;
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        self.state = State::Skip {
            depth,
            in_string,
            escaped,
        };
        at
    }
}

/// Whether `byte` can be part of a scalar (`-12.5e+3`, `true`, `null`).
fn is_scalar_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.')
}

/// A kept value's raw text, unless it was cut by the limit or is not UTF-8.
fn value_text(text: &[u8], overflow: bool) -> Option<&str> {
    (!overflow)
        .then(|| std::str::from_utf8(text).ok())
        .flatten()
}

/// Decodes a key's raw text (cut by the limit when `overflow`) into `key`, cut to [`KEY_LIMIT`]
/// bytes at a character boundary.
fn set_key(raw: &[u8], overflow: bool, key: &mut String) {
    let raw = String::from_utf8_lossy(raw);
    let decoded: Cow<'_, str> = string_content(&raw, !overflow);
    let mut end = decoded.len().min(KEY_LIMIT);
    while !decoded.is_char_boundary(end) {
        end -= 1;
    }
    key.clear();
    key.push_str(&decoded[..end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a visitor saw, one line per call, and which values it wanted.
    #[derive(Default)]
    struct Log {
        lines: Vec<String>,
        /// Values are wanted unless their path's last key is `skip`.
        skip_key: Option<&'static str>,
    }

    fn path_text(path: &[PathStep<'_>]) -> String {
        path.iter()
            .map(|step| match step {
                PathStep::Key(key) => format!(".{key}"),
                PathStep::Index(index) => format!("[{index}]"),
            })
            .collect()
    }

    impl Visitor for Log {
        fn value(&mut self, path: &[PathStep<'_>], kind: ValueKind) -> bool {
            self.lines
                .push(format!("{kind:?} at '{}'", path_text(path)));
            !matches!(
                (path.last(), self.skip_key),
                (Some(PathStep::Key(key)), Some(skip)) if *key == skip
            )
        }

        fn text(&mut self, text: Option<&str>) {
            self.lines.push(format!("text {text:?}"));
        }

        fn close(&mut self, depth: usize) {
            self.lines.push(format!("close {depth}"));
        }
    }

    fn scan_in(chunks: &[&[u8]], skip_key: Option<&'static str>) -> (Vec<String>, Outcome) {
        let mut scanner = Scanner::new();
        let mut log = Log {
            skip_key,
            ..Log::default()
        };
        for chunk in chunks {
            scanner.feed(chunk, &mut log);
        }
        (log.lines, scanner.outcome())
    }

    fn scan(text: &[u8]) -> (Vec<String>, Outcome) {
        scan_in(&[text], None)
    }

    #[test]
    fn values_come_with_their_paths() {
        let (lines, outcome) = scan(br#" {"a": [1, "x", {"b": null}], "c": {} } "#);
        assert_eq!(
            lines,
            [
                "Object at ''",
                "Array at '.a'",
                "Scalar at '.a[0]'",
                "text Some(\"1\")",
                "String at '.a[1]'",
                "text Some(\"x\")",
                "Object at '.a[2]'",
                "Scalar at '.a[2].b'",
                "text Some(\"null\")",
                "close 2",
                "close 1",
                "Object at '.c'",
                "close 1",
                "close 0",
            ]
        );
        assert_eq!(outcome, Outcome::Complete);
    }

    #[test]
    fn every_split_point_gives_the_same_story() {
        let text =
            br#"{"k\"ey":"v\\al\u00e9\"","n":-12.5e+3,"deep":[[{"x":"\ud83d\ude00"}]],"t":true}"#;
        let whole = scan(text);
        assert_eq!(whole.1, Outcome::Complete);
        assert!(whole.0.contains(&"String at '.k\"ey'".to_owned()));
        assert!(whole.0.contains(&"text Some(\"v\\\\alé\\\"\")".to_owned()));
        assert!(whole.0.contains(&"text Some(\"-12.5e+3\")".to_owned()));
        assert!(whole.0.contains(&"text Some(\"😀\")".to_owned()));
        for split in 0..=text.len() {
            let (a, b) = text.split_at(split);
            assert_eq!(scan_in(&[a, b], None), whole, "split at {split}");
        }
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(scan_in(&bytes, None), whole);
    }

    #[test]
    fn escaped_keys_are_decoded() {
        let (lines, _) = scan(br#"{"trace\u0070arent":"x","\/":1}"#);
        assert!(lines.contains(&"String at '.traceparent'".to_owned()));
        assert!(lines.contains(&"Scalar at './'".to_owned()));
    }

    #[test]
    fn long_text_is_not_handed_over_and_long_keys_are_cut() {
        let long = "a".repeat(TEXT_LIMIT + 1);
        let key = "k".repeat(KEY_LIMIT + 10);
        let text = format!(r#"{{"{key}":"{long}","s":"{}"}}"#, &long[1..]);
        let mut scanner = Scanner::new();
        let capacity = scanner.text.capacity();
        let mut log = Log::default();
        scanner.feed(text.as_bytes(), &mut log);
        assert_eq!(log.lines[1], format!("String at '.{}'", &key[..KEY_LIMIT]));
        assert_eq!(log.lines[2], "text None");
        assert_eq!(log.lines[4], format!("text Some(\"{}\")", &long[1..]));
        assert_eq!(scanner.text.capacity(), capacity, "never grown");
    }

    #[test]
    fn unwanted_and_too_deep_containers_are_skipped_whole() {
        let text = br#"{"skip":{"a":["}",{"b":"\"]"}]},"after":1}"#;
        let (lines, outcome) = scan_in(&[text], Some("skip"));
        assert_eq!(
            lines,
            [
                "Object at ''",
                "Object at '.skip'",
                "close 1",
                "Scalar at '.after'",
                "text Some(\"1\")",
                "close 0",
            ]
        );
        assert_eq!(outcome, Outcome::Complete);

        // A million levels: the scan needs no more memory than for one.
        let depth = 1_000_000;
        let mut deep = b"{\"a\":".to_vec();
        deep.extend(std::iter::repeat_n(b'[', depth));
        deep.extend(std::iter::repeat_n(b']', depth));
        deep.extend_from_slice(br#","b":2}"#);
        let (lines, outcome) = scan(&deep);
        assert_eq!(outcome, Outcome::Complete);
        // The root, the tracked arrays and the one skipped, their ends, `b` and the root's end.
        assert_eq!(lines.len(), 1 + 2 * TRACKED_DEPTH + 3);
        assert_eq!(
            &lines[lines.len() - 3..],
            ["Scalar at '.b'", "text Some(\"2\")", "close 0"]
        );
    }

    #[test]
    fn malformed_input_stops_the_scan() {
        for (text, told) in [
            (&br#"{"a":1 "b":2}"#[..], 3),
            (br#"{"a" 1}"#, 1),
            (br#"{"a":[1}"#, 4),
            (br#"[1,]"#, 3),
            (br#"{"a":@}"#, 1),
            (br#"{1:2}"#, 1),
            (br#"{} {}"#, 2),
        ] {
            let (lines, outcome) = scan(text);
            assert_eq!(
                outcome,
                Outcome::Malformed,
                "{}",
                String::from_utf8_lossy(text)
            );
            assert_eq!(lines.len(), told, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn cut_input_reports_nothing_unfinished() {
        let (lines, outcome) = scan(br#"{"a":"unfinished"#);
        assert_eq!(lines, ["Object at ''", "String at '.a'"]);
        assert_eq!(outcome, Outcome::Cut);
        let (lines, outcome) = scan(br#"{"a":12"#);
        assert_eq!(lines, ["Object at ''", "Scalar at '.a'"]);
        assert_eq!(outcome, Outcome::Cut);
        assert_eq!(scan(b"").1, Outcome::Cut);
        assert_eq!(scan(b"42").1, Outcome::Complete);
    }
}
