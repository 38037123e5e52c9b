//! Whether text is one whole JSON document, without building anything ([`is_json_document`]).
//!
//! It accepts exactly what `serde_json::from_str::<serde::de::IgnoredAny>` accepts, the check it
//! replaces: RFC 8259 JSON with whitespace (space, tab, line feed, carriage return only) around
//! it; `\u` escapes need four hex digits but may name lone surrogates; numbers of any size
//! (`1e999`); no control bytes inside strings; nesting of any depth (serde_json's ignoring walk has
//! no depth limit). Unlike that check, it allocates nothing for nesting up to [`INLINE_NESTING`].

use smallvec::SmallVec;

/// Open containers kept on the stack; deeper nesting, rare in bodies, moves them to the heap.
const INLINE_NESTING: usize = 64;

/// Bytes a string's content stops at: its closing quote, an escape, and the control bytes it may
/// not hold. A table look-up per byte of every string.
const STRING_STOPS: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b < 0x20 || b == b'"' as usize || b == b'\\' as usize;
        b += 1;
    }
    table
};

/// An open container.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Object,
    Array,
}

/// Whether `text` is one whole JSON document (see the module docs for what is accepted).
pub fn is_json_document(text: &str) -> bool {
    Validator {
        bytes: text.as_bytes(),
        at: 0,
        open: SmallVec::new(),
    }
    .document()
    .is_some()
}

/// A pass over the bytes; every method returns `None` at the first byte that is not JSON.
struct Validator<'a> {
    bytes: &'a [u8],
    at: usize,
    open: SmallVec<[Open; INLINE_NESTING]>,
}

impl Validator<'_> {
    fn document(&mut self) -> Option<()> {
        self.values()?;
        self.skip_whitespace();
        (self.at == self.bytes.len()).then_some(())
    }

    /// A value with everything nested in it, iteratively (no recursion, whatever the depth).
    fn values(&mut self) -> Option<()> {
        loop {
            self.skip_whitespace();
            match self.peek()? {
                open @ (b'{' | b'[') => {
                    self.at += 1;
                    self.skip_whitespace();
                    let (container, close) = match open {
                        b'{' => (Open::Object, b'}'),
                        _ => (Open::Array, b']'),
                    };
                    if self.peek()? == close {
                        self.at += 1;
                    } else {
                        self.open.push(container);
                        if container == Open::Object {
                            self.key()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.at += 1;
                    self.string()?;
                }
                b'n' => self.literal(b"null")?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return None,
            }
            // After a value: close containers until one takes a comma, or the document ends.
            loop {
                let Some(&container) = self.open.last() else {
                    return Some(());
                };
                self.skip_whitespace();
                match (self.peek()?, container) {
                    (b',', _) => {
                        self.at += 1;
                        if container == Open::Object {
                            self.key()?;
                        }
                        break;
                    }
                    (b'}', Open::Object) | (b']', Open::Array) => {
                        self.at += 1;
                        self.open.pop();
                    }
                    _ => return None,
                }
            }
        }
    }

    /// A member's key and its colon.
    fn key(&mut self) -> Option<()> {
        self.skip_whitespace();
        self.expect(b'"')?;
        self.string()?;
        self.skip_whitespace();
        self.expect(b':')
    }

    /// The rest of a string after its opening quote.
    fn string(&mut self) -> Option<()> {
        loop {
            let rest = self.bytes.get(self.at..)?;
            let stop = rest.iter().position(|&b| STRING_STOPS[usize::from(b)])?;
            self.at += stop + 1;
            match rest[stop] {
                b'"' => return Some(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        let hex = self.bytes.get(self.at..self.at + 4)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        self.at += 4;
                    }
                    _ => return None,
                },
                // A control byte.
                _ => return None,
            }
        }
    }

    /// `-`? (`0` | a digit 1–9 and digits) (`.` digits)? (`e`|`E` (`+`|`-`)? digits)?
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return None;
                }
            }
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    /// One digit or more.
    fn some_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.bytes.get(self.at..)?.starts_with(word).then(|| {
            self.at += word.len();
        })
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// JSON's whitespace only: a form feed is not.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;

    /// The check this one replaces.
    fn serde_accepts(text: &str) -> bool {
        serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
    }

    fn agree(text: &str) {
        assert_eq!(is_json_document(text), serde_accepts(text), "{text:?}");
    }

    #[test]
    fn edge_cases_agree_with_serde_json() {
        let deep = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let cases = [
            "",
            " ",
            "null",
            " null \n",
            "nul",
            "nullx",
            "true",
            "false",
            "fals",
            "0",
            "-0",
            "-",
            "01",
            "-01",
            "1.",
            "1.5",
            ".5",
            "1e",
            "1e+",
            "1e999",
            "1E-5",
            "-1.5e+10",
            "1x",
            "1 2",
            "\"\"",
            "\"a",
            "\"\\ud800\"",
            "\"\\uDC00x\"",
            "\"\\u12\"",
            "\"\\u12g4\"",
            "\"\\x\"",
            "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"",
            "\"\u{1}\"",
            "\"\t\"",
            "\"\u{7f}é\"",
            "{}",
            "[]",
            "{ }",
            "[ ]",
            "{\"a\":1}",
            "{\"a\" : [1, {\"b\":null}] }",
            "{\"a\":1,}",
            "[1,]",
            "[,1]",
            "{,}",
            "{\"a\"}",
            "{\"a\":}",
            "{1:2}",
            "[1 2]",
            "[1}",
            "{\"a\":1]",
            "[[]",
            "[]]",
            "[] x",
            "[]\u{c}",
            "\u{c}[]",
            "\r\n\t[]\r\n\t",
            "{\"a\":1}{}",
            "tru e",
        ];
        for case in cases {
            agree(case);
        }
        for depth in [1, 63, 64, 65, 127, 128, 129, 300, 5000] {
            agree(&deep(depth));
            agree(&deep(depth)[1..]);
        }
    }

    #[test]
    fn fuzz_corpus_agrees_with_serde_json() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let mut files = 0;
        for target in std::fs::read_dir(corpus).expect("corpus") {
            for file in std::fs::read_dir(target.expect("target").path()).expect("target") {
                let bytes = std::fs::read(file.expect("file").path()).expect("read");
                let text = String::from_utf8_lossy(&bytes);
                agree(&text);
                // Every cut of a document too: most are not JSON, some are.
                for end in (0..=text.len()).filter(|&end| text.is_char_boundary(end)) {
                    agree(&text[..end]);
                }
                files += 1;
            }
        }
        assert!(files > 50, "{files} corpus files");
    }

    /// Text made of JSON's pieces, valid or not.
    fn jsonish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("{"),
            Just("}"),
            Just("["),
            Just("]"),
            Just(","),
            Just(":"),
            Just("\""),
            Just("\\"),
            Just("\\u"),
            Just("00e9"),
            Just("d83d"),
            Just("null"),
            Just("true"),
            Just("false"),
            Just("-"),
            Just("0"),
            Just("12"),
            Just("."),
            Just("e"),
            Just("E+"),
            Just(" "),
            Just("\n"),
            Just("\t"),
            Just("\u{c}"),
            Just("\u{1}"),
            Just("a"),
            Just("é"),
            Just("\"k\":"),
            Just("\"v\""),
            Just("1e999"),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    /// Valid documents, to cut and change.
    fn documents() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            ".*".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(".{0,6}", inner, 0..6)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        })
        .prop_map(|value| serde_json::to_string_pretty(&value).expect("serialise"))
    }

    proptest! {
        #[test]
        fn pieces_agree_with_serde_json(text in jsonish()) {
            agree(&text);
        }

        #[test]
        fn changed_documents_agree_with_serde_json(
            document in documents(),
            at in any::<prop::sample::Index>(),
            byte in prop_oneof![Just(b' '), Just(b','), Just(b'"'), Just(b'\\'), Just(b'}'),
                Just(b']'), Just(b'0'), Just(b'\x01'), Just(b'e'), Just(b'-')],
        ) {
            agree(&document);
            let boundaries: Vec<usize> =
                (0..=document.len()).filter(|&i| document.is_char_boundary(i)).collect();
            let at = boundaries[at.index(boundaries.len())];
            agree(&document[..at]);
            let mut changed = document.clone();
            changed.insert(at, char::from(byte));
            agree(&changed);
            if at < document.len() {
                let mut removed = document.clone();
                removed.remove(at);
                agree(&removed);
            }
        }
    }
}
