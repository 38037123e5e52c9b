//! The output of a walk over text: the text itself until the first token that changes (a value
//! replaced, whitespace dropped), a copy from there on. Most bodies hold nothing to redact; their
//! bytes are then never copied here.

use std::borrow::Cow;

/// Text rewritten token by token, in order; every byte of the input is either kept or replaced.
pub(super) struct Rewrite<'t> {
    text: &'t str,
    /// The rewritten text so far; `None` while every token so far was kept as it is.
    out: Option<String>,
    /// The input up to here is accounted for (kept, or written to `out`).
    at: usize,
}

impl<'t> Rewrite<'t> {
    /// A rewrite of `text`, nothing accounted for yet.
    pub(super) fn new(text: &'t str) -> Self {
        Self {
            text,
            out: None,
            at: 0,
        }
    }

    /// The input up to `end` (the end of the next token) is kept as it is.
    #[inline]
    pub(super) fn keep(&mut self, end: usize) {
        if let Some(out) = &mut self.out {
            out.push_str(&self.text[self.at..end]);
        }
        self.at = end;
    }

    /// The input up to `end` is replaced by what the caller writes to the buffer returned.
    pub(super) fn replace(&mut self, end: usize) -> &mut String {
        let (text, at) = (self.text, self.at);
        self.at = end;
        self.out.get_or_insert_with(|| {
            let mut out = String::with_capacity(text.len());
            out.push_str(&text[..at]);
            out
        })
    }

    /// The rewritten text: borrowed when every token was kept.
    pub(super) fn finish(self) -> Cow<'t, str> {
        match self.out {
            None => Cow::Borrowed(self.text),
            Some(out) => Cow::Owned(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_kept_borrows_the_text() {
        let text = r#"{"a": 1}"#;
        let mut rewrite = Rewrite::new(text);
        for end in [1, 4, 5, 7, 8] {
            rewrite.keep(end);
        }
        assert!(matches!(rewrite.finish(), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn a_change_copies_what_came_before_and_everything_after() {
        let text = r#"{"k": "secret", "n": 1}"#;
        let mut rewrite = Rewrite::new(text);
        rewrite.keep(5);
        // The space after the colon is dropped.
        rewrite.replace(6);
        rewrite.replace(14).push_str("\"****\"");
        rewrite.keep(text.len());
        let out = rewrite.finish();
        assert!(matches!(&out, Cow::Owned(_)));
        assert_eq!(out, r#"{"k":"****", "n": 1}"#);
    }

    #[test]
    fn a_change_at_the_first_token_starts_the_copy_empty() {
        let mut rewrite = Rewrite::new(" [1]");
        rewrite.replace(1);
        rewrite.keep(4);
        assert_eq!(rewrite.finish(), "[1]");
    }
}
