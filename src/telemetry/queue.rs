//! The queue from the telemetry listener to the owner task: one message per delivery (the events of
//! one POST together, in order), bounded in events. The listener never waits on it: the events of a
//! delivery that do not fit are dropped, the last ones first, and the caller counts them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::events::TelemetryEvent;

/// Most events queued to the owner task at once.
pub const TELEMETRY_QUEUE_CAPACITY: usize = 4096;

/// A queue holding at most `capacity` events.
pub fn queue(capacity: usize) -> (BatchSender, BatchReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (
        BatchSender {
            tx,
            queued: Arc::clone(&queued),
            capacity,
        },
        BatchReceiver { rx, queued },
    )
}

/// The listener's end.
#[derive(Debug, Clone)]
pub struct BatchSender {
    tx: mpsc::UnboundedSender<Vec<TelemetryEvent>>,
    /// Events sent and not yet received.
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl BatchSender {
    /// Queues the leading events of `events` that fit; returns how many were dropped (all of them
    /// once the owner task is gone).
    pub fn send(&self, mut events: Vec<TelemetryEvent>) -> usize {
        let wanted = events.len();
        if wanted == 0 {
            return 0;
        }
        let mut taken = 0;
        // Several connections may deliver at once: the room is claimed atomically.
        let claimed = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                taken = self.capacity.saturating_sub(queued).min(wanted);
                (taken > 0).then_some(queued + taken)
            });
        if claimed.is_err() {
            return wanted;
        }
        events.truncate(taken);
        if self.tx.send(events).is_err() {
            self.queued.fetch_sub(taken, Ordering::AcqRel);
            return wanted;
        }
        wanted - taken
    }
}

/// The owner task's end.
#[derive(Debug)]
pub struct BatchReceiver {
    rx: mpsc::UnboundedReceiver<Vec<TelemetryEvent>>,
    queued: Arc<AtomicUsize>,
}

impl BatchReceiver {
    /// The next delivery's events; `None` once every sender is gone and the queue is empty.
    /// Cancel-safe: a delivery is taken only when it is returned.
    pub async fn recv(&mut self) -> Option<Vec<TelemetryEvent>> {
        let events = self.rx.recv().await?;
        self.queued.fetch_sub(events.len(), Ordering::AcqRel);
        Some(events)
    }

    /// The next delivery's events if one is queued.
    pub fn try_recv(&mut self) -> Option<Vec<TelemetryEvent>> {
        let events = self.rx.try_recv().ok()?;
        self.queued.fetch_sub(events.len(), Ordering::AcqRel);
        Some(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::parse_batch;

    fn events(n: usize) -> Vec<TelemetryEvent> {
        let items: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"time":"2022-10-12T00:03:50.000Z","type":"function","record":"line-{i}"}}"#
                )
            })
            .collect();
        let (events, skipped) = parse_batch(format!("[{}]", items.join(",")).as_bytes());
        assert_eq!(skipped, 0);
        events
    }

    #[tokio::test]
    async fn a_delivery_is_one_message_and_what_does_not_fit_is_dropped() {
        let (tx, mut rx) = queue(5);
        assert_eq!(tx.send(events(3)), 0);
        assert_eq!(tx.send(events(4)), 2, "two fit, the last two are dropped");
        assert_eq!(tx.send(events(1)), 1, "full");
        assert_eq!(tx.send(Vec::new()), 0);
        assert_eq!(rx.recv().await.map(|b| b.len()), Some(3));
        let second = rx.try_recv().expect("the second delivery");
        assert_eq!(second, events(2), "the leading events are kept, in order");
        assert!(rx.try_recv().is_none());
        // Received events free their room.
        assert_eq!(tx.send(events(5)), 0);
        assert_eq!(rx.recv().await.map(|b| b.len()), Some(5));
        drop(rx);
        assert_eq!(tx.send(events(1)), 1, "the owner task is gone");
    }
}
