//! The bounded queue one signal's finished items wait in until a flush sends them, and its drop
//! accounting.
//!
//! Bound: at most `capacity` items, counted in items, not in batches or bytes (for spans,
//! `LAMBDA_LENS_EXPORT_QUEUE_SPANS`). When a push would go over it, the oldest items are dropped:
//! the newest say most about the function's current state.
//!
//! Drop accounting: one counter per queue, since start-up, of every item that left it (or never
//! entered it) without being sent: overflow, a batch the target refused for good, an item the
//! target could never take. An overflow is reported to the caller when the total was zero before
//! it, and then each time it carries the total across a multiple of [`DROP_WARNING_INTERVAL`], so
//! that a long outage logs a few lines, not one per invocation; the caller words the warning for
//! its signal.
//!
//! The queue is generic over its items so that each signal (spans, log records, metric
//! collections) gets the same bound and accounting.

use std::collections::vec_deque::{self, VecDeque};

/// After the first drop, overflow is reported each time the total crosses a multiple of this.
const DROP_WARNING_INTERVAL: u64 = 1000;

/// A batch: the items at the front of a queue, oldest first.
pub(crate) type Batch<'a, T> = vec_deque::Iter<'a, T>;

/// A bounded FIFO of items waiting for export; see the module documentation for its bound.
pub(crate) struct Queue<T> {
    items: VecDeque<T>,
    capacity: usize,
    dropped: u64,
}

/// Items dropped because the queue was full, reported when a warning is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Overflow {
    /// Items dropped since start-up, for any reason.
    pub(crate) dropped_total: u64,
    /// The queue's bound.
    pub(crate) capacity: usize,
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

    /// Appends `items`, then drops the oldest ones beyond the bound and counts them; the
    /// [`Overflow`] is returned when a warning about it is due.
    pub(crate) fn push(&mut self, items: impl IntoIterator<Item = T>) -> Option<Overflow> {
        self.items.extend(items);
        let excess = self.items.len().saturating_sub(self.capacity);
        if excess == 0 {
            return None;
        }
        self.items.drain(..excess);
        let before = self.dropped;
        self.dropped += excess as u64;
        let due =
            before == 0 || before / DROP_WARNING_INTERVAL != self.dropped / DROP_WARNING_INTERVAL;
        due.then_some(Overflow {
            dropped_total: self.dropped,
            capacity: self.capacity,
        })
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
    fn overflow_drops_the_oldest_and_is_reported_at_the_first_drop_then_every_thousand() {
        let mut queue = Queue::new(3);
        assert_eq!(queue.push(0..3), None);
        assert_eq!(
            queue.push(3..5),
            Some(Overflow {
                dropped_total: 2,
                capacity: 3
            })
        );
        assert_eq!(queue.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(queue.push(5..(5 + 997)), None, "999 dropped: not yet");
        assert_eq!(
            queue.push([0]).map(|overflow| overflow.dropped_total),
            Some(1000)
        );
        assert_eq!(queue.push([0]), None);
        assert_eq!(queue.dropped(), 1001);
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
        assert_eq!(
            queue.push(0..10),
            None,
            "the first drop of the total was not an overflow"
        );
        assert_eq!(queue.dropped(), 4);
    }
}
