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
//! - **Fail cheaply.** A failed request ends the flush of every signal sent to its collector (no
//!   retry within a flush: it would spend the budget the invocation waits on), and the
//!   collector's circuit (`circuit`, shared by those signals) decides when the next request may
//!   go: while it is open, a flush makes one probe at most, and none within the backoff step.
//! - **One timeout per collector per invocation.** An invocation can wait on two flushes: a
//!   background flush that was running when its result came, and its own before `/event/next`,
//!   which the owner task starts right after the first. The second could probe a collector the
//!   first timed out on again (a timeout opens its circuit with the first probe due at once, and
//!   a failed probe's step may be nearly zero) and hold the invocation for a second budget. So
//!   after a request to a collector timed out in a background flush (the whole flush budget the
//!   first time, one probe afterwards), no request starts to that collector, for any of its
//!   signals, for [`TIMEOUT_PAUSE`]; only SHUTDOWN's flush goes anyway. The pause is the
//!   collector's (see the `collector` module): the signals sent to other collectors go on, so a
//!   hanging logs endpoint never keeps the spans from a healthy traces endpoint. A timeout in the
//!   flush before `/event/next` starts no pause: that flush is its invocation's last, and the next
//!   invocation pays its own. An invocation pays at most one timeout per collector.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// How long no request starts to a collector after one to it timed out in a background flush
/// (SHUTDOWN's flush excepted): as long as an impatient probe may take, far longer than the owner task needs
/// to start the flush an invocation waits on after a background flush it also waited on.
pub const TIMEOUT_PAUSE: Duration = Duration::from_millis(250);

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

    /// When the flush started: a request failed at or after it failed in this flush.
    pub(crate) fn started(&self) -> Instant {
        self.started
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

/// The pause after a request to one collector timed out in a background flush (see the module
/// documentation): shared by the signals sent to that collector.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TimeoutPause {
    until: Option<SystemTime>,
}

impl TimeoutPause {
    /// When a flush on `occasion` at `now` may start requests again, if not now: never later
    /// than `now + TIMEOUT_PAUSE`, so a wall clock stepped back after the timeout cannot lengthen
    /// the pause.
    pub(crate) fn holds(&self, now: SystemTime, occasion: Occasion) -> Option<SystemTime> {
        match occasion {
            Occasion::Shutdown => None,
            Occasion::Background | Occasion::BeforeFreeze => self
                .until
                .filter(|until| *until > now)
                .map(|until| until.min(now + TIMEOUT_PAUSE)),
        }
    }

    /// A request timed out at `now` in a flush on `occasion`: after a background flush, the
    /// pause starts.
    pub(crate) fn timed_out(&mut self, now: SystemTime, occasion: Occasion) {
        if occasion == Occasion::Background {
            self.until = Some(now + TIMEOUT_PAUSE);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn a_background_timeout_holds_every_flush_but_shutdowns_for_the_pause() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut pause = TimeoutPause::default();
        assert_eq!(pause.holds(at, Occasion::BeforeFreeze), None);
        pause.timed_out(at, Occasion::BeforeFreeze);
        assert_eq!(
            pause.holds(at, Occasion::BeforeFreeze),
            None,
            "the flush before a freeze is its invocation's last"
        );
        pause.timed_out(at, Occasion::Shutdown);
        assert_eq!(pause.holds(at, Occasion::Background), None);
        pause.timed_out(at, Occasion::Background);
        let end = at + TIMEOUT_PAUSE;
        let just_before = end - Duration::from_millis(1);
        assert_eq!(pause.holds(just_before, Occasion::Background), Some(end));
        assert_eq!(pause.holds(just_before, Occasion::BeforeFreeze), Some(end));
        assert_eq!(pause.holds(just_before, Occasion::Shutdown), None);
        assert_eq!(pause.holds(end, Occasion::BeforeFreeze), None);
    }

    #[test]
    fn a_clock_stepped_back_after_a_timeout_does_not_lengthen_the_pause() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut pause = TimeoutPause::default();
        pause.timed_out(at, Occasion::Background);
        let stepped_back = at - Duration::from_secs(3600);
        assert_eq!(
            pause.holds(stepped_back, Occasion::Background),
            Some(stepped_back + TIMEOUT_PAUSE)
        );
        assert_eq!(pause.holds(stepped_back, Occasion::Shutdown), None);
    }
}
