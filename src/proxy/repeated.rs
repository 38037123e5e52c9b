//! What a runtime connection's records repeat from one invocation to the next: the invoked ARN,
//! the content types, the upstream's answer to a result (`{"status":"OK"}`). Each is kept from the
//! last record that carried it, and a record carrying it again shares it instead of copying it.

use bytes::Bytes;

use super::records::as_text;
use crate::last_shared::LastShared;
use crate::record::SharedText;

/// The last value of one header, to share with the next record that carries it (kept up to
/// `last_shared::MAX_KEPT_BYTES`).
#[derive(Debug, Default)]
pub(super) struct LastText(LastShared<SharedText>);

impl LastText {
    /// `value` as text (invalid UTF-8 replaced): the last one when it is the same, else a new one.
    pub(super) fn share(&mut self, value: &[u8]) -> SharedText {
        self.0.share(&as_text(value))
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
    fn header_values_are_shared_as_text_with_invalid_utf8_replaced() {
        let mut last = LastText::default();
        let first = last.share(b"application/json");
        assert!(std::ptr::eq(
            first.as_ptr(),
            last.share(b"application/json").as_ptr()
        ));
        assert_eq!(&*last.share(b"a\xffb"), "a\u{fffd}b");
        let replaced = last.share(b"a\xffb");
        assert!(std::ptr::eq(
            replaced.as_ptr(),
            last.share(b"a\xffb").as_ptr()
        ));
    }
}
