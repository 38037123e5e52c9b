//! One signal on its way out: its bounded queue, the encoded request at the head of it, its
//! endpoint's [`Sender`], the [`Collector`](super::collector::Collector) it shares with the
//! other signals sent there (circuit, probe, failure log), and its rate-limited failure lines;
//! and the loop that sends it within a flush's [`Deadline`].
//!
//! What a signal brings is a [`Batcher`]: how many queued items go in one request, how they are
//! encoded, and which items it refuses before queueing (X-Ray's span size limit).
//!
//! Encode once: the head batch is encoded when first needed and kept, with the number of items
//! it carries, until the target acknowledged it or refused it for good; every retry re-sends the
//! same bytes. The items stay queued meanwhile (they count towards the bound, and are what is
//! dropped, oldest first, when the queue overflows: the kept request then no longer matches its
//! items and is discarded, to be encoded again from what is left).

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry_sdk::Resource;
use tokio::time::Instant;

use super::circuit::{Attempt, Outcome, PROBE_TIMEOUT};
use super::collector::{Attempts, Go, SharedCollector};
use super::failure::{FailureKind, SendError};
use super::fault_log::{RecoveryLine, Scope};
use super::flush::{Deadline, Occasion, SignalFlush};
use super::otlp::{HttpError, Sender};
use super::queue::{Batch, Queue};
use super::request::EncodedRequest;
use crate::settings::Signal;

/// How one signal's items are batched and encoded.
pub(crate) trait Batcher {
    /// What the signal's queue holds.
    type Item;

    /// The items' name in log lines ("spans").
    const ITEMS: &'static str;

    /// How many items from the front of `queued` the next request takes: at least one, and at
    /// most what the target accepts in one request.
    fn batch_len(&self, queued: &Queue<Self::Item>) -> usize;

    /// The protobuf export request carrying `batch`.
    fn encode(&self, batch: Batch<'_, Self::Item>) -> Vec<u8>;

    /// Replaces the resource attached to every request.
    fn set_resource(&mut self, resource: &Resource);

    /// Removes from `items` what the target could never take (logged by the batcher); returns
    /// how many were removed.
    fn refuse(&self, _items: &mut Vec<Self::Item>) -> usize {
        0
    }
}

/// One signal's queue, kept request and endpoint state.
pub(crate) struct Outbox<B: Batcher> {
    signal: Signal,
    batcher: B,
    queue: Queue<B::Item>,
    pending: Option<EncodedRequest>,
    sender: Sender,
    /// Shared with the other signals sent to the same collector.
    collector: SharedCollector,
}

impl<B: Batcher> Outbox<B> {
    /// An empty outbox of at most `capacity` items sent through `sender` to `collector`.
    pub(crate) fn new(
        signal: Signal,
        batcher: B,
        capacity: usize,
        sender: Sender,
        collector: SharedCollector,
    ) -> Self {
        Self {
            signal,
            batcher,
            queue: Queue::new(capacity),
            pending: None,
            sender,
            collector,
        }
    }

    /// Sets a header of every later request; false when `value` is not a valid header value.
    pub(crate) fn set_header(&mut self, name: &'static str, value: &str) -> bool {
        self.sender.set_header(name, value)
    }

    /// Queues `items`, dropping the oldest beyond the bound.
    pub(crate) fn enqueue(&mut self, mut items: Vec<B::Item>) {
        let refused = self.batcher.refuse(&mut items);
        if refused > 0 {
            self.queue.count_dropped(refused);
        }
        let overflow = self.queue.push(items);
        if overflow == 0 {
            return;
        }
        // The kept request's first items are gone: it no longer matches the queue.
        self.pending = None;
        let due =
            self.collector
                .faults()
                .overflowed(self.signal, overflow as u64, SystemTime::now());
        if let Some(dropped_since_last_line) = due {
            tracing::warn!(
                signal = self.signal.name(),
                dropped_since_last_line,
                dropped_total = self.queue.dropped(),
                capacity = self.queue.capacity(),
                "export queue full (collector unreachable or too slow?): dropped the oldest {} \
                 (further lines of this kind at most once a minute)",
                B::ITEMS
            );
        }
    }

    /// Replaces the resource of every request, the kept one included (it is encoded again).
    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        self.batcher.set_resource(resource);
        self.pending = None;
    }

    /// Items waiting.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The queue's bound.
    pub(crate) fn capacity(&self) -> usize {
        self.queue.capacity()
    }

    /// Items dropped since start-up.
    pub(crate) fn dropped(&self) -> u64 {
        self.queue.dropped()
    }

    /// When the next request may go, if items wait and the circuit holds them back.
    pub(crate) fn blocked_until(&self, now: SystemTime) -> Option<SystemTime> {
        if self.queue.is_empty() {
            return None;
        }
        self.collector.blocked_until(self.signal, now)
    }

    /// Sends the queue, batch by batch, until it is empty, a request to the collector fails in
    /// this flush (this signal's or another's, other than by a refusal for good), the collector's
    /// circuit or its pause after a timeout (see `flush`'s
    /// [`TimeoutPause`](super::flush::TimeoutPause)) holds it back, or the `deadline` passes;
    /// `occasion` says what follows the flush (the circuit's probe policy, and whether a timeout
    /// pauses the collector). While another signal probes the collector, it waits for the probe's
    /// outcome.
    pub(crate) async fn flush(&mut self, deadline: Deadline, occasion: Occasion) -> SignalFlush {
        let mut exported = 0;
        let mut error = None;
        let mut recovery = None;
        let collector = Arc::clone(&self.collector);
        while !self.queue.is_empty() {
            if collector.failed_since(deadline.started()) {
                error = Some(format!(
                    "{} export stopped: a request to the collector failed in this flush",
                    self.signal.name()
                ));
                break;
            }
            let now = SystemTime::now();
            let permit = collector.permit(self.signal, now, occasion);
            // Held until the probe's outcome is recorded, at the end of this iteration.
            let (attempts, _probe_gate) = match permit {
                Go::Now(attempts) if attempts.collector == Attempt::Ordinary => (attempts, None),
                Go::Now(attempts) => match collector.try_probe() {
                    Some(gate) => (attempts, Some(gate)),
                    None => {
                        // Another signal probes the collector: its outcome decides.
                        if tokio::time::timeout_at(deadline.at(), collector.probe_done())
                            .await
                            .is_err()
                        {
                            error = Some(format!(
                                "export did not finish within {:?}",
                                deadline.budget()
                            ));
                            break;
                        }
                        continue;
                    }
                },
                Go::WaitUntil(at) => {
                    error = Some(format!(
                        "{} export paused after failures; next attempt in {:?}",
                        self.signal.name(),
                        at.duration_since(now).unwrap_or_default()
                    ));
                    break;
                }
            };
            let Some(left) = deadline.at().checked_duration_since(Instant::now()) else {
                error = Some(format!(
                    "export did not finish within {:?}",
                    deadline.budget()
                ));
                break;
            };
            let request = match self.head_request() {
                Ok(request) => request,
                Err(encode_error) => {
                    let count = self.batcher.batch_len(&self.queue);
                    self.queue.drop_rejected(count);
                    tracing::error!(signal = self.signal.name(), count, %encode_error, "could not compress a batch; dropped");
                    continue;
                }
            };
            let timeout = if attempts.capped() {
                self.sender.timeout().min(PROBE_TIMEOUT)
            } else {
                self.sender.timeout()
            };
            let started = Instant::now();
            // One timer for both bounds: the request's timeout and what is left of the flush.
            let sent = match tokio::time::timeout(
                left.min(timeout),
                self.sender.send(&request.body, timeout),
            )
            .await
            {
                Ok(result) => result,
                Err(_) if left < timeout => Err(SendError::DeadlineCut(deadline.budget())),
                Err(_) => Err(SendError::Http(HttpError::TimedOut(timeout))),
            };
            let now = SystemTime::now();
            match sent {
                Ok(()) => {
                    self.acknowledged(request.items);
                    exported += request.items;
                    recovery = recovery.or(self.answered(attempts, now, occasion));
                }
                Err(send_error) => {
                    let kind = send_error.kind();
                    if kind == FailureKind::Rejected {
                        self.pending = None;
                        self.queue.drop_rejected(request.items);
                        let scope = Scope::Path(self.signal);
                        self.log_failure(kind, scope, now, &send_error, request.items);
                        recovery = recovery.or(self.answered(attempts, now, occasion));
                        error = Some(send_error.to_string());
                        continue;
                    }
                    if matches!(send_error, SendError::DeadlineCut(_))
                        && started.elapsed() < PROBE_TIMEOUT.min(deadline.budget()) / 2
                    {
                        // The flush had too little time left to tell anything about the collector
                        // (an earlier batch used it). A request given most of a budget shorter
                        // than a probe does count: otherwise such a budget never opens the circuit.
                        error = Some(send_error.to_string());
                        break;
                    }
                    let not_before = send_error.not_before(now);
                    let outcome = if send_error.is_refused_connection() {
                        Outcome::NotListening
                    } else if not_before.is_none()
                        && matches!(kind, FailureKind::Refused | FailureKind::Unauthorized)
                    {
                        // An answer about this signal's path: the collector is up.
                        Outcome::Refused
                    } else {
                        Outcome::Failed {
                            timed_out: kind == FailureKind::TimedOut,
                            not_before,
                        }
                    };
                    collector.record(self.signal, attempts, outcome, now, occasion);
                    if occasion != Occasion::Shutdown {
                        // At SHUTDOWN nothing is kept for a next attempt: the owner says once
                        // what is lost.
                        let scope = if outcome == Outcome::Refused {
                            Scope::Path(self.signal)
                        } else {
                            Scope::Collector
                        };
                        self.log_failure(kind, scope, now, &send_error, 0);
                    }
                    error = Some(send_error.to_string());
                    break;
                }
            }
        }
        if let Some(recovery) = recovery {
            tracing::info!(
                signal = self.signal.name(),
                failed_attempts = recovery.failed_attempts,
                outage_s = recovery.outage.as_secs(),
                delivered = exported,
                queued = self.queue.len(),
                dropped_total = self.queue.dropped(),
                "export recovered: the collector answers again; {exported} {} delivered by this flush",
                B::ITEMS
            );
        }
        SignalFlush {
            exported,
            requeued: self.queue.len(),
            error,
        }
    }

    /// The kept request, or the head batch encoded now (and kept).
    fn head_request(&mut self) -> io::Result<EncodedRequest> {
        if let Some(pending) = &self.pending {
            return Ok(pending.clone());
        }
        let count = self.batcher.batch_len(&self.queue);
        let body = self
            .sender
            .body(self.batcher.encode(self.queue.front(count)))?;
        let request = EncodedRequest { body, items: count };
        self.pending = Some(request.clone());
        Ok(request)
    }

    /// The target took the kept request.
    fn acknowledged(&mut self, items: usize) {
        self.pending = None;
        self.queue.remove_sent(items);
    }

    /// The collector answered a request sent under `attempts` in a flush on `occasion`: its
    /// circuits close (unless the request started before the collector's opened: the probe
    /// decides); after failures, what the recovery line says (the first delivery after an outage
    /// says it).
    fn answered(
        &self,
        attempts: Attempts,
        now: SystemTime,
        occasion: Occasion,
    ) -> Option<RecoveryLine> {
        let recovered =
            self.collector
                .record(self.signal, attempts, Outcome::Answered, now, occasion);
        if recovered {
            self.collector.faults().delivered(self.signal, now)
        } else {
            None
        }
    }

    /// One rate-limited line about a failed attempt in `scope`; `dropped` items of it were dropped
    /// for good.
    fn log_failure(
        &mut self,
        kind: FailureKind,
        scope: Scope,
        now: SystemTime,
        error: &SendError,
        dropped: usize,
    ) {
        let Some(line) = self.collector.faults().failed(kind, scope, now) else {
            return;
        };
        let next_attempt_s = self
            .collector
            .blocked_until(self.signal, now)
            .and_then(|at| at.duration_since(now).ok())
            .map_or(0, |wait: Duration| wait.as_secs());
        if dropped > 0 {
            tracing::warn!(
                signal = self.signal.name(),
                %error,
                dropped,
                dropped_total = self.queue.dropped(),
                queued = self.queue.len(),
                similar_since_last_line = line.unlogged,
                "{}: dropped {dropped} {} for good (further lines of this kind at most once a minute)",
                kind.describe(),
                B::ITEMS
            );
        } else {
            tracing::warn!(
                signal = self.signal.name(),
                %error,
                attempts = line.attempts,
                queued = self.queue.len(),
                dropped_total = self.queue.dropped(),
                next_attempt_s,
                similar_since_last_line = line.unlogged,
                "{}: {} kept for the next attempt (further lines of this kind at most once a minute)",
                kind.describe(),
                B::ITEMS
            );
        }
    }
}
