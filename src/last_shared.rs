//! The last shared text made from a value, handed out again while the value repeats: an
//! invocation's Telemetry API events name one request id, a runtime connection's records one
//! invoked ARN and content type, so each repeat shares one allocation instead of copying the text
//! again.

/// Longest text kept for the next repeat (an ARN is at most a few hundred bytes, a request id or a
/// content type less); a longer one is made for its own use only.
pub(crate) const MAX_KEPT_BYTES: usize = 1024;

/// The last `T` made, kept while it is at most [`MAX_KEPT_BYTES`] long.
#[derive(Debug)]
pub(crate) struct LastShared<T>(Option<T>);

impl<T> Default for LastShared<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T: Clone + AsRef<str> + for<'a> From<&'a str>> LastShared<T> {
    /// `text` as a `T`: the last one made when it is the same text, a new one otherwise.
    pub(crate) fn share(&mut self, text: &str) -> T {
        if let Some(last) = &self.0 {
            if last.as_ref() == text {
                return last.clone();
            }
        }
        let made = T::from(text);
        self.0 = (text.len() <= MAX_KEPT_BYTES).then(|| made.clone());
        made
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{RequestId, SharedText};

    #[test]
    fn the_same_text_shares_the_last_value_and_another_replaces_it() {
        let mut last = LastShared::<SharedText>::default();
        let first = last.share("application/json");
        let again = last.share("application/json");
        assert_eq!((&*first, &*again), ("application/json", "application/json"));
        assert!(std::ptr::eq(first.as_ptr(), again.as_ptr()));
        assert_eq!(&*last.share("text/plain"), "text/plain");
        let back = last.share("application/json");
        assert_eq!(&*back, "application/json");
        assert!(!std::ptr::eq(first.as_ptr(), back.as_ptr()));

        let mut ids = LastShared::<RequestId>::default();
        let first = ids.share("r1");
        assert!(std::ptr::eq(first.as_str(), ids.share("r1").as_str()));
        assert_eq!(ids.share("r2").as_str(), "r2");
    }

    #[test]
    fn a_text_past_the_bound_is_not_kept() {
        let mut last = LastShared::<SharedText>::default();
        let long = "a".repeat(MAX_KEPT_BYTES + 1);
        let first = last.share(&long);
        let again = last.share(&long);
        assert_eq!(*first, *again);
        assert!(!std::ptr::eq(first.as_ptr(), again.as_ptr()));
    }
}
