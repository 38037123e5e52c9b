//! The bounded queue one signal's finished items wait in until a flush sends them, and its drop
//! accounting.
//!
//! Bound: at most `capacity` items, counted in items, not in batches or bytes (for spans,
//! `LAMBDA_LENS_EXPORT_QUEUE_SPANS`). When a push would go over it, the oldest items are dropped:
//! the newest say most about the function's current state.
//!
//! Drop accounting: one counter per queue, since start-up, of every item that left it (or never
//! entered it) without being sent: overflow, a batch the target refused for good, an item the
//! target could never take. A push says how many items its overflow dropped; the caller words the
//! warning for its signal, at most once per `LOG_INTERVAL` (the collector's `FaultLog`).
//!
//! The queue is generic over its items so that each signal (spans, log records, metric
//! collections) gets the same bound and accounting.

use std::collections::vec_deque::{self, VecDeque};

/// A batch: the items at the front of a queue, oldest first.
pub(crate) type Batch<'a, T> = vec_deque::Iter<'a, T>;

/// A bounded FIFO of items waiting for export; see the module documentation for its bound.
pub(crate) struct Queue<T> {
    items: VecDeque<T>,
    capacity: usize,
    dropped: u64,
}

impl<T> Queue<T> {
    /// An empty queue holding at most `capacity` items.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            capacity,
            dropped: 0,
        }
    }

    /// Appends `items`, then drops the oldest ones beyond the bound and counts them; returns how
    /// many it dropped.
    pub(crate) fn push(&mut self, items: impl IntoIterator<Item = T>) -> usize {
        self.items.extend(items);
        let excess = self.items.len().saturating_sub(self.capacity);
        if excess > 0 {
            self.items.drain(..excess);
            self.dropped += excess as u64;
        }
        excess
    }

    /// Counts `count` items dropped before they were queued; returns the new total.
    pub(crate) fn count_dropped(&mut self, count: usize) -> u64 {
        self.dropped += count as u64;
        self.dropped
    }

    /// The queued items, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// The `count` oldest items, borrowed: a batch is encoded from them, and they stay queued
    /// until the target acknowledged them.
    pub(crate) fn front(&self, count: usize) -> Batch<'_, T> {
        self.items.range(..count)
    }

    /// Removes the `count` oldest items, which the target acknowledged.
    pub(crate) fn remove_sent(&mut self, count: usize) {
        self.items.drain(..count);
    }

    /// Removes the `count` oldest items, which the target refused for good, and counts them.
    pub(crate) fn drop_rejected(&mut self, count: usize) {
        self.items.drain(..count);
        self.dropped += count as u64;
    }

    /// Items waiting.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The bound.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Items dropped since start-up, for any reason.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_drops_the_oldest_and_says_how_many() {
        let mut queue = Queue::new(3);
        assert_eq!(queue.push(0..3), 0);
        assert_eq!(queue.push(3..5), 2);
        assert_eq!(queue.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(queue.push(5..(5 + 997)), 997);
        assert_eq!(queue.dropped(), 999);
    }

    #[test]
    fn other_drops_count_towards_the_same_total() {
        let mut queue = Queue::new(10);
        queue.push(0..4);
        assert_eq!(queue.count_dropped(1), 1);
        queue.drop_rejected(2);
        assert_eq!(queue.dropped(), 3);
        assert_eq!(queue.front(2).copied().collect::<Vec<_>>(), [2, 3]);
        queue.remove_sent(1);
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.dropped(), 3, "sent items are not drops");
        assert_eq!(queue.push(0..10), 1);
        assert_eq!(queue.dropped(), 4);
    }
}
