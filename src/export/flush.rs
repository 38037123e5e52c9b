//! The flush policy every signal is sent with, before the lifecycle loop calls
//! `/extension/event/next` (after which the sandbox freezes).
//!
//! - **Time budget.** A flush takes at most `min(budget, flush_timeout)`: callers pass the time
//!   they can afford (e.g. what is left before a SHUTDOWN deadline) and the configured flush
//!   timeout (`LAMBDA_LENS_FLUSH_TIMEOUT_MS`) is applied here, in one place. The [`Deadline`] is
//!   fixed when the flush starts; the three signals are flushed concurrently under it, so none
//!   waits for another and the hold is the slowest signal's, not the sum.
//! - **Deadline rule.** Within a signal, batches go out one at a time, oldest first; the request
//!   in flight when the deadline passes is cancelled, and no request starts after it.
//! - **Kept at the front.** Items leave their queue only once the target acknowledged them: after
//!   an error, at the deadline, or when the flush's future is dropped, they stay at the front, in
//!   order, with their encoded request, and go out with the next flush (the next thaw, or
//!   SHUTDOWN).
//! - **Dropped for good.** A batch the target refuses as such (see `failure`) is dropped, counted
//!   with the queue's drops and logged (rate-limited), and the flush goes on with the next batch.
//! - **Fail cheaply.** A failed request ends the signal's flush (no retry within a flush: it would
//!   spend the budget the invocation waits on), and its endpoint's circuit (`circuit`) decides
//!   when the next request may go: while it is open, a flush makes no request at all.

use std::time::Duration;

use tokio::time::Instant;

/// What follows a flush, which decides whether an endpoint that refused connections is probed
/// (see the `circuit` module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// The process keeps running afterwards: a timer can run the next attempt when its backoff
    /// step has passed (Lambda Managed Instances, which are never frozen).
    Background,
    /// The lifecycle loop calls `/extension/event/next` next: the sandbox may freeze, and no
    /// timer runs until the next invocation.
    BeforeFreeze,
    /// The environment shuts down: the last chance. Every open circuit is probed once whatever
    /// its step (a `Retry-After` included: there is no later), and the flush may take the whole
    /// SHUTDOWN budget it is given, not just the per-invocation flush timeout.
    Shutdown,
}

/// What one flush did for one signal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignalFlush {
    /// Items the target acknowledged.
    pub exported: usize,
    /// Items still queued afterwards (for the next flush); zero after a complete flush.
    pub requeued: usize,
    /// Why the flush stopped early, or what was dropped for good.
    pub error: Option<String>,
}

/// What one flush did: spans in the top-level fields, the other signals beside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushOutcome {
    /// Spans the target acknowledged.
    pub exported: usize,
    /// Spans still queued afterwards (for the next flush); zero after a complete flush.
    pub requeued: usize,
    /// Why the span flush stopped early: the export error, or that the budget ran out.
    pub error: Option<String>,
    /// Metric collections.
    pub metrics: SignalFlush,
    /// Log records.
    pub logs: SignalFlush,
    /// How long the flush took.
    pub elapsed: Duration,
}

/// When a flush must be done: `min(budget, flush_timeout)` after it started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    started: Instant,
    budget: Duration,
}

impl Deadline {
    /// Starts a flush now that may take `budget`, capped by the configured `flush_timeout`.
    pub(crate) fn start(budget: Duration, flush_timeout: Duration) -> Self {
        Self {
            started: Instant::now(),
            budget: budget.min(flush_timeout),
        }
    }

    /// The moment it passes.
    pub(crate) fn at(&self) -> Instant {
        self.started + self.budget
    }

    /// The time the flush was given.
    pub(crate) fn budget(&self) -> Duration {
        self.budget
    }

    /// Time since the flush started.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
