//! The request ids of one batch's events, made once per invocation.
//!
//! An invocation's `platform.start`, `runtimeDone` and `report` name the same request id, usually
//! one after the other in one delivery: each event after the first shares the id's allocation
//! instead of copying the text into one of its own.

use crate::record::RequestId;

/// The last request id made for a batch.
#[derive(Default)]
pub(super) struct RequestIds {
    last: Option<RequestId>,
}

impl RequestIds {
    /// `id` as a [`RequestId`]: the last one made when it is the same text, a new one otherwise.
    pub(super) fn get(&mut self, id: &str) -> RequestId {
        match &self.last {
            Some(last) if last.as_str() == id => last.clone(),
            _ => self.last.insert(RequestId::new(id)).clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_shares_one_id_and_other_texts_replace_it() {
        let mut ids = RequestIds::default();
        let first = ids.get("r1");
        let again = ids.get("r1");
        assert_eq!((first.as_str(), again.as_str()), ("r1", "r1"));
        assert!(std::ptr::eq(first.as_str(), again.as_str()));
        let other = ids.get("r2");
        assert_eq!(other.as_str(), "r2");
        let back = ids.get("r1");
        assert_eq!(back.as_str(), "r1");
        assert!(!std::ptr::eq(first.as_str(), back.as_str()));
    }
}
