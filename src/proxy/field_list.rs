//! The index of a head's header lines, and the reuse of its allocation: every exchange parses about
//! four heads, and a list handed back when its head is dropped serves the next head parsed on the
//! same thread instead of a fresh allocation. What is kept is bounded: at most
//! [`MAX_SPARE_FIELD_LISTS`] lists of at most [`MAX_KEPT_FIELDS`] lines' room each, per thread.

use std::cell::RefCell;
use std::ops::{Deref, Range};

use super::tags::Tag;

/// Most spare lists a thread keeps: a runtime connection's exchange holds at most two heads at
/// once (the request and the answer), and a few connections may be mid-exchange together.
const MAX_SPARE_FIELD_LISTS: usize = 8;
/// Largest list (in lines' room) kept for reuse; a head with more lines gets its own allocation
/// and frees it.
const MAX_KEPT_FIELDS: usize = 64;
/// Room a new list is made with at least, so that a kept list fits the usual heads that follow
/// (a Runtime API event has about ten lines) without growing.
const NEW_LIST_FIELDS: usize = 16;

thread_local! {
    /// This thread's spare lists, empty, each with room for at most [`MAX_KEPT_FIELDS`] lines.
    static SPARE: RefCell<Vec<Vec<Field>>> = const { RefCell::new(Vec::new()) };
}

/// One header line, as ranges of the head's bytes.
#[derive(Debug, Clone)]
pub(super) struct Field {
    /// The name's bytes.
    pub(super) name: Range<usize>,
    /// The value's bytes.
    pub(super) value: Range<usize>,
    /// The name's tag, when the proxy reads that header.
    pub(super) tag: Option<Tag>,
}

/// A head's header lines in order, in a list taken from (and handed back to) this thread's spares.
#[derive(Debug)]
pub(super) struct FieldList(Vec<Field>);

impl FieldList {
    /// The lines `fields` yields, in a spare list when there is one.
    pub(super) fn collect(fields: impl ExactSizeIterator<Item = Field>) -> Self {
        let mut list = SPARE
            .try_with(|spare| spare.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_else(|| Vec::with_capacity(fields.len().max(NEW_LIST_FIELDS)));
        list.extend(fields);
        Self(list)
    }
}

impl Deref for FieldList {
    type Target = [Field];

    fn deref(&self) -> &[Field] {
        &self.0
    }
}

impl Clone for FieldList {
    fn clone(&self) -> Self {
        Self::collect(self.0.iter().cloned())
    }
}

impl Drop for FieldList {
    /// Hands the allocation back, within the bounds; a thread that is ending keeps nothing.
    fn drop(&mut self) {
        let capacity = self.0.capacity();
        if capacity == 0 || capacity > MAX_KEPT_FIELDS {
            return;
        }
        let mut list = std::mem::take(&mut self.0);
        list.clear();
        let _ = SPARE.try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                if spare.len() < MAX_SPARE_FIELD_LISTS {
                    spare.push(list);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize) -> impl ExactSizeIterator<Item = Field> {
        (0..n).map(|i| Field {
            name: i..i + 1,
            value: i + 1..i + 2,
            tag: None,
        })
    }

    #[test]
    fn a_dropped_list_serves_the_next_head() {
        let first = FieldList::collect(lines(3));
        let allocation = first.as_ptr();
        drop(first);
        let second = FieldList::collect(lines(2));
        assert_eq!(second.as_ptr(), allocation, "the allocation was reused");
        assert_eq!(second.len(), 2);
        assert_eq!(second[1].name, 1..2);
    }

    #[test]
    fn large_lists_are_not_kept() {
        let large = FieldList::collect(lines(MAX_KEPT_FIELDS + 1));
        drop(large);
        let kept = SPARE.with(|spare| spare.borrow().iter().map(Vec::capacity).max());
        assert!(kept.unwrap_or(0) <= MAX_KEPT_FIELDS);
    }

    #[test]
    fn spare_lists_are_bounded() {
        let lists: Vec<FieldList> = (0..MAX_SPARE_FIELD_LISTS + 3)
            .map(|_| FieldList::collect(lines(1)))
            .collect();
        drop(lists);
        assert_eq!(
            SPARE.with(|spare| spare.borrow().len()),
            MAX_SPARE_FIELD_LISTS
        );
    }
}
