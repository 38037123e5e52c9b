//! What a runtime connection's records repeat from one invocation to the next: the invoked ARN,
//! the content types, the upstream's answer to a result (`{"status":"OK"}`). Each is kept from the
//! last record that carried it, and a record carrying it again shares it instead of copying it.

use bytes::Bytes;

use super::records::as_text;
use crate::record::SharedText;

/// Longest header value kept for the next record (an ARN is at most a few hundred bytes, a content
/// type less); a longer one is copied for its own record only.
pub(super) const MAX_REPEATED_TEXT_BYTES: usize = 1024;

/// The last value of one header, to share with the next record that carries it.
#[derive(Debug, Default)]
pub(super) struct LastText(Option<SharedText>);

impl LastText {
    /// `value` as text (invalid UTF-8 replaced): the last one when it is the same, else a new one,
    /// kept for the next record when it is not longer than [`MAX_REPEATED_TEXT_BYTES`].
    pub(super) fn share(&mut self, value: &[u8]) -> SharedText {
        let text = as_text(value);
        if let Some(last) = &self.0 {
            if **last == *text {
                return last.clone();
            }
        }
        let shared = SharedText::from(text.as_ref());
        self.0 = (shared.len() <= MAX_REPEATED_TEXT_BYTES).then(|| shared.clone());
        shared
    }
}

/// The values a runtime connection's records repeat.
#[derive(Debug, Default)]
pub(super) struct Repeated {
    /// `Lambda-Runtime-Invoked-Function-Arn` of the events.
    pub(super) invoked_arn: LastText,
    /// `Content-Type` of the events.
    pub(super) event_content_type: LastText,
    /// `Content-Type` of the results.
    pub(super) result_content_type: LastText,
    /// What was kept of the upstream's last answer to a result (at most the answer capture's
    /// limit, `UPSTREAM_ANSWER_CAPTURE_BYTES`).
    pub(super) upstream_answer: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_value_shares_the_last_text_and_another_replaces_it() {
        let mut last = LastText::default();
        let first = last.share(b"application/json");
        let again = last.share(b"application/json");
        assert_eq!((&*first, &*again), ("application/json", "application/json"));
        assert!(std::ptr::eq(first.as_ptr(), again.as_ptr()));
        let other = last.share(b"text/plain");
        assert_eq!(&*other, "text/plain");
        assert!(!std::ptr::eq(
            first.as_ptr(),
            last.share(b"application/json").as_ptr()
        ));
        assert_eq!(&*last.share(b"a\xffb"), "a\u{fffd}b");
    }

    #[test]
    fn a_value_past_the_bound_is_not_kept() {
        let mut last = LastText::default();
        let long = vec![b'a'; MAX_REPEATED_TEXT_BYTES + 1];
        let first = last.share(&long);
        let again = last.share(&long);
        assert_eq!(*first, *again);
        assert!(!std::ptr::eq(first.as_ptr(), again.as_ptr()));
    }
}
