//! The lexical layer of JSON, for code that reads JSON bytes without building a tree: where a
//! string ends (escapes included), whitespace, where a scalar ends, what a string token holds, and
//! [`Tokens`], a token stream that tells object keys from values.
//!
//! Everything here tolerates text cut anywhere (a captured head) and text that only starts like
//! JSON: a string the text ends inside is reported as unterminated, never as an error. Redaction's
//! walk and the prefix parser ([`crate::json::prefix`]) read [`Tokens`]; the value locator
//! ([`crate::json::locate`]) builds on the same functions.

use std::borrow::Cow;
use std::ops::Range;

use smallvec::SmallVec;

/// Open containers tracked on the stack: deeper nesting, rare in events, moves them to the heap.
const INLINE_OPEN: usize = 32;

/// Which bytes end a scalar: whitespace, the structural characters and a quote. A table look-up
/// per byte, where a comparison with each stop byte costs seven (every number of every walked
/// body passes through here).
const SCALAR_STOPS: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_whitespace()
            || matches!(byte, b',' | b':' | b'{' | b'}' | b'[' | b']' | b'"');
        b += 1;
    }
    table
};

/// Whether `byte` separates tokens: JSON's whitespace plus form feed, which text that only looks
/// like JSON may hold (ASCII whitespace).
pub fn is_whitespace(byte: u8) -> bool {
    byte.is_ascii_whitespace()
}

/// The first index at or after `at` that is not whitespace (`bytes.len()` when there is none).
pub fn skip_whitespace(bytes: &[u8], at: usize) -> usize {
    bytes
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| !is_whitespace(b)))
        .map_or(bytes.len().max(at), |p| at + p)
}

/// Where the string whose opening quote is at `open` ends: the index just past its closing quote,
/// or `None` when the text ends first (a string cut by the capture, possibly inside an escape).
pub fn string_end(bytes: &[u8], open: usize) -> Option<usize> {
    let mut at = open + 1;
    loop {
        // memchr2, not a byte loop: event strings (an SQS body, an SNS message) can be long.
        let found = at + memchr::memchr2(b'"', b'\\', bytes.get(at..)?)?;
        if bytes[found] == b'"' {
            return Some(found + 1);
        }
        at = found + 2;
    }
}

/// Where the scalar starting at `at` ends (a number, `true`, `false`, `null`, or any other run of
/// bytes): at the next whitespace, structural character or quote, or at the end of the text.
pub fn scalar_end(bytes: &[u8], at: usize) -> usize {
    bytes[at..]
        .iter()
        .position(|&b| SCALAR_STOPS[usize::from(b)])
        .map_or(bytes.len(), |p| at + p)
}

/// The content of a string token (`raw` with its quotes); a token cut by the capture
/// (`terminated == false`) is decoded as far as it goes. Undecodable content is returned raw.
pub fn string_content(raw: &str, terminated: bool) -> Cow<'_, str> {
    if terminated {
        if !raw.contains('\\') {
            return raw[1..raw.len() - 1].into();
        }
        if let Ok(s) = serde_json::from_str::<String>(raw) {
            return s.into();
        }
    } else {
        // The cut may fall inside an escape (`\`, `\u12`): drop up to its six characters.
        let mut end = raw.len();
        for _ in 0..=6 {
            if let Ok(s) = serde_json::from_str::<String>(&format!("{}\"", &raw[..end])) {
                return s.into();
            }
            if end <= 1 {
                break;
            }
            end -= 1;
            while !raw.is_char_boundary(end) {
                end -= 1;
            }
        }
    }
    raw.trim_start_matches('"').trim_end_matches('"').into()
}

/// An object or an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// `{ … }`.
    Object,
    /// `[ … ]`.
    Array,
}

impl Container {
    /// The character that closes it.
    pub fn closer(self) -> char {
        match self {
            Self::Object => '}',
            Self::Array => ']',
        }
    }
}

/// One token of [`Tokens`]; its bytes are the range it comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// A run of whitespace.
    Whitespace,
    /// `{` or `[`.
    Open(Container),
    /// `}` or `]`, whichever container is open (damaged text may close the wrong one).
    Close,
    /// `,`.
    Comma,
    /// `:`.
    Colon,
    /// A string where the innermost object expects a key; `terminated` is false when the text
    /// ends inside it.
    Key {
        /// The closing quote was read.
        terminated: bool,
    },
    /// Any other string.
    String {
        /// The closing quote was read.
        terminated: bool,
    },
    /// Anything else up to the next whitespace, structural character or quote (see
    /// [`scalar_end`]); one that reaches the end of the text may have been cut.
    Scalar,
}

/// An open container while tokenising.
#[derive(Debug, Clone, Copy)]
struct Open {
    container: Container,
    /// An object that still expects a key (at its start, or after a `,`).
    expecting_key: bool,
}

/// The tokens of JSON text, each with its byte range, for text that may be cut anywhere or not be
/// JSON at all: nothing is rejected, every byte belongs to exactly one token.
pub struct Tokens<'a> {
    bytes: &'a [u8],
    at: usize,
    open: SmallVec<[Open; INLINE_OPEN]>,
}

impl<'a> Tokens<'a> {
    /// Tokens of `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            at: 0,
            open: SmallVec::new(),
        }
    }

    /// The containers open after the last token read, innermost first.
    pub fn open_innermost_first(&self) -> impl Iterator<Item = Container> + '_ {
        self.open.iter().rev().map(|open| open.container)
    }

    fn expecting_key(&self) -> bool {
        self.open.last().is_some_and(|open| open.expecting_key)
    }
}

impl Iterator for Tokens<'_> {
    type Item = (Token, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.at;
        let byte = *self.bytes.get(start)?;
        let (token, end) = match byte {
            b if is_whitespace(b) => (Token::Whitespace, skip_whitespace(self.bytes, start)),
            b'{' | b'[' => {
                let container = if byte == b'{' {
                    Container::Object
                } else {
                    Container::Array
                };
                self.open.push(Open {
                    container,
                    expecting_key: container == Container::Object,
                });
                (Token::Open(container), start + 1)
            }
            b'}' | b']' => {
                self.open.pop();
                (Token::Close, start + 1)
            }
            b',' => {
                if let Some(open) = self.open.last_mut() {
                    open.expecting_key = open.container == Container::Object;
                }
                (Token::Comma, start + 1)
            }
            b':' => {
                if let Some(open) = self.open.last_mut() {
                    open.expecting_key = false;
                }
                (Token::Colon, start + 1)
            }
            b'"' => {
                let end = string_end(self.bytes, start);
                let terminated = end.is_some();
                let token = if self.expecting_key() {
                    Token::Key { terminated }
                } else {
                    Token::String { terminated }
                };
                (token, end.unwrap_or(self.bytes.len()))
            }
            _ => (Token::Scalar, scalar_end(self.bytes, start)),
        };
        self.at = end;
        Some((token, start..end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<(Token, &str)> {
        Tokens::new(text.as_bytes())
            .map(|(token, range)| (token, &text[range]))
            .collect()
    }

    #[test]
    fn string_ends_survive_escapes_and_cuts() {
        assert_eq!(string_end(br#""ab" x"#, 0), Some(4));
        assert_eq!(string_end(br#""a\"b\\" x"#, 0), Some(8));
        assert_eq!(string_end(br#"x "a"#, 2), None);
        assert_eq!(string_end(br#""a\"#, 0), None);
        assert_eq!(string_end(b"\"", 0), None);
    }

    #[test]
    fn whitespace_and_scalars() {
        assert_eq!(skip_whitespace(b" \t\n\r\x0cx", 0), 5);
        assert_eq!(skip_whitespace(b"  ", 0), 2);
        assert_eq!(skip_whitespace(b"", 3), 3);
        assert_eq!(scalar_end(b"12.5e3,", 0), 6);
        assert_eq!(scalar_end(b"true}", 0), 4);
        assert_eq!(scalar_end(b"nul", 0), 3);
        assert_eq!(scalar_end(b"a\"b", 0), 1);
    }

    #[test]
    fn string_contents() {
        assert_eq!(string_content(r#""plain""#, true), "plain");
        assert_eq!(string_content(r#""a\"b\u00e9""#, true), "a\"bé");
        assert_eq!(string_content(r#""cut \u00"#, false), "cut ");
        assert_eq!(string_content(r#""cut\"#, false), "cut");
        assert_eq!(string_content(r#""bad \x""#, true), r#"bad \x"#);
    }

    #[test]
    fn keys_are_told_from_values() {
        use Token::*;
        let closed = |terminated| String { terminated };
        assert_eq!(
            tokens(r#"{"a" : ["b", {"c":1}], "d":"#),
            vec![
                (Open(Container::Object), "{"),
                (Key { terminated: true }, r#""a""#),
                (Whitespace, " "),
                (Colon, ":"),
                (Whitespace, " "),
                (Open(Container::Array), "["),
                (closed(true), r#""b""#),
                (Comma, ","),
                (Whitespace, " "),
                (Open(Container::Object), "{"),
                (Key { terminated: true }, r#""c""#),
                (Colon, ":"),
                (Scalar, "1"),
                (Close, "}"),
                (Close, "]"),
                (Comma, ","),
                (Whitespace, " "),
                (Key { terminated: true }, r#""d""#),
                (Colon, ":"),
            ]
        );
        assert_eq!(
            tokens(r#"["x", "y"#),
            vec![
                (Open(Container::Array), "["),
                (closed(true), r#""x""#),
                (Comma, ","),
                (Whitespace, " "),
                (closed(false), r#""y"#),
            ]
        );
    }

    #[test]
    fn damaged_text_is_still_tokenised() {
        let mut all = Tokens::new(br#"}] x"y" {"k" "v""#);
        let kinds: Vec<Token> = all.by_ref().map(|(token, _)| token).collect();
        assert_eq!(
            kinds,
            vec![
                Token::Close,
                Token::Close,
                Token::Whitespace,
                Token::Scalar,
                Token::String { terminated: true },
                Token::Whitespace,
                Token::Open(Container::Object),
                Token::Key { terminated: true },
                Token::Whitespace,
                // No colon yet: the object still expects a key.
                Token::Key { terminated: true },
            ]
        );
        assert_eq!(
            all.open_innermost_first().collect::<Vec<_>>(),
            vec![Container::Object]
        );
    }
}
