//! The state shared by both transports and the handle: the captured spans, log records, metrics and
//! request metadata, the subscribers that want every new span, and the current fault-injection mode.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use crate::model::{ReceivedSpan, RequestInfo};
use crate::signals::{ReceivedLog, ReceivedMetric};

/// How the receiver treats incoming export requests; see
/// [`ReceiverHandle::set_mode`](crate::ReceiverHandle::set_mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decode, store and acknowledge every request.
    #[default]
    Normal,
    /// Answer every request with HTTP 503 / gRPC `UNAVAILABLE` without storing it.
    Refuse,
    /// Answer every request with HTTP 429 and `Retry-After:` [`THROTTLE_RETRY_AFTER_S`] / gRPC
    /// `RESOURCE_EXHAUSTED` without storing it.
    Throttle,
    /// Answer every request with HTTP 400 / gRPC `INVALID_ARGUMENT` (a batch refused for good)
    /// without storing it.
    Reject,
    /// Read the request and then answer nothing until the mode changes (the request is then
    /// handled according to the new mode) or the client gives up.
    Hang,
    /// Stop listening and drop open connections, so clients see "connection refused".
    Down,
}

/// The error message of refused requests, on both transports.
pub(crate) const REFUSED_MESSAGE: &str = "refusing exports (test mode)";
/// The error message of throttled requests, on both transports.
pub(crate) const THROTTLED_MESSAGE: &str = "too many exports, come back later (test mode)";
/// The error message of rejected requests, on both transports.
pub(crate) const REJECTED_MESSAGE: &str = "rejecting exports (test mode)";
/// The seconds [`Mode::Throttle`] asks clients to wait (`Retry-After`).
pub const THROTTLE_RETRY_AFTER_S: u64 = 2;

/// What a request handler should do with a request, decided by the mode when it arrived
/// (or, for [`Mode::Hang`], the mode it was released into).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Store and acknowledge.
    Accept,
    /// Answer 503 / `UNAVAILABLE` and record the refusal.
    Refuse,
    /// Answer 429 / `RESOURCE_EXHAUSTED` and record it as refused.
    Throttle,
    /// Answer 400 / `INVALID_ARGUMENT` and record the rejection.
    Reject,
    /// The receiver went down while the request was held: its connection is gone, so
    /// answer anything and record nothing.
    Drop,
}

/// State shared between the listeners and the [`ReceiverHandle`](crate::ReceiverHandle).
#[derive(Debug)]
pub(crate) struct Shared {
    captured: Mutex<Captured>,
    /// Bumped on every change of `captured`, so waiters re-check their condition.
    generation: watch::Sender<u64>,
    mode: watch::Sender<Mode>,
}

#[derive(Debug, Default)]
struct Captured {
    spans: Vec<ReceivedSpan>,
    logs: Vec<ReceivedLog>,
    metrics: Vec<ReceivedMetric>,
    requests: Vec<RequestInfo>,
    subscribers: Vec<mpsc::UnboundedSender<ReceivedSpan>>,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Self {
            captured: Mutex::new(Captured::default()),
            generation: watch::Sender::new(0),
            mode: watch::Sender::new(Mode::Normal),
        }
    }

    fn captured(&self) -> MutexGuard<'_, Captured> {
        // The data stays consistent even if a holder panicked: every update is a single push.
        self.captured.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores an answered request and, if it was accepted, its spans.
    pub(crate) fn record(&self, request: RequestInfo, spans: Vec<ReceivedSpan>) {
        let mut captured = self.captured();
        captured.subscribers.retain(|subscriber| {
            spans
                .iter()
                .all(|span| subscriber.send(span.clone()).is_ok())
        });
        captured.requests.push(request);
        captured.spans.extend(spans);
        drop(captured);
        self.generation.send_modify(|generation| *generation += 1);
    }

    /// Stores an answered logs request and its records.
    pub(crate) fn record_logs(&self, request: RequestInfo, logs: Vec<ReceivedLog>) {
        self.update(|captured| {
            captured.requests.push(request);
            captured.logs.extend(logs);
        });
    }

    /// Stores an answered metrics request and its metrics.
    pub(crate) fn record_metrics(&self, request: RequestInfo, metrics: Vec<ReceivedMetric>) {
        self.update(|captured| {
            captured.requests.push(request);
            captured.metrics.extend(metrics);
        });
    }

    fn update(&self, change: impl FnOnce(&mut Captured)) {
        change(&mut self.captured());
        self.generation.send_modify(|generation| *generation += 1);
    }

    pub(crate) fn spans(&self) -> Vec<ReceivedSpan> {
        self.captured().spans.clone()
    }

    pub(crate) fn logs(&self) -> Vec<ReceivedLog> {
        self.captured().logs.clone()
    }

    pub(crate) fn metrics(&self) -> Vec<ReceivedMetric> {
        self.captured().metrics.clone()
    }

    pub(crate) fn requests(&self) -> Vec<RequestInfo> {
        self.captured().requests.clone()
    }

    pub(crate) fn clear(&self) {
        let mut captured = self.captured();
        captured.spans.clear();
        captured.logs.clear();
        captured.metrics.clear();
        captured.requests.clear();
        drop(captured);
        self.generation.send_modify(|generation| *generation += 1);
    }

    pub(crate) fn subscribe(&self) -> mpsc::UnboundedReceiver<ReceivedSpan> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.captured().subscribers.push(sender);
        receiver
    }

    pub(crate) fn watch_generation(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    pub(crate) fn mode(&self) -> Mode {
        *self.mode.borrow()
    }

    pub(crate) fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Decides what to do with a request that has been read, holding it while in
    /// [`Mode::Hang`].
    pub(crate) async fn admit(&self) -> Admission {
        let mut mode = self.mode.subscribe();
        let released = mode
            .wait_for(|mode| *mode != Mode::Hang)
            .await
            .map(|mode| *mode)
            // The sender lives in `self`, so it cannot be gone while we borrow `self`.
            .expect("the mode sender outlives every request handler");
        match released {
            Mode::Normal => Admission::Accept,
            Mode::Refuse => Admission::Refuse,
            Mode::Throttle => Admission::Throttle,
            Mode::Reject => Admission::Reject,
            // HTTP/2 streams run in tasks of their own that outlive their aborted connection.
            Mode::Down | Mode::Hang => Admission::Drop,
        }
    }
}

/// The current time in nanoseconds since the Unix epoch (zero if the clock is before it).
pub(crate) fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
