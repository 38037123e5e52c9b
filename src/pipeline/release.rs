//! When the owner task answers a lifecycle loop that waits for an invocation's spans, and when it
//! flushes spans nobody waits for. Pure: time is passed in, the export is handed in.
//!
//! The rules:
//! - a waiter is answered once its invocation is closed — on the success path as soon as the proxy
//!   saw the accepted result and the runtime's next `/next` (see `correlate`), so nothing waits for
//!   the platform's `runtimeDone` — or at its release time: just before its
//!   deadline (extension work counts against the function timeout); at once when nothing could
//!   complete the invocation (no exporter); shortly after INVOKE while no telemetry is coming and the
//!   runtime has not used the proxy yet (it may not use it at all);
//! - the answer comes only after the flush: it sends the lifecycle loop to `/event/next`, after
//!   which the sandbox may freeze;
//! - a flush never runs past the deadline of a waiter it answers;
//! - spans nobody waits for (Lambda Managed Instances send no INVOKE) are flushed in batches;
//! - while the exporter holds its requests back (a collector's circuit is open, its pause after a
//!   timeout, or `Retry-After`), a background flush waits until it may send again: at most one
//!   attempt per backoff step, never one per invocation. Once it may send, what is still queued
//!   is flushed even without new invocations (a background flush that left items queued schedules
//!   its own retry), so the queue drains when the collector is back.

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;

use crate::export::Occasion;
use crate::lifecycle::deadline_at;
use crate::record::RequestId;

/// How long, without telemetry, to wait for the proxy's first event before deciding the runtime does
/// not use the proxy (the event passes the proxy right after INVOKE is released).
const FIRST_EVENT_WAIT: Duration = Duration::from_millis(200);
/// Longest wait for an invocation without a deadline (emulators send `deadlineMs: 0`).
const NO_DEADLINE_LIMIT: Duration = Duration::from_secs(900);
/// Spans of invocations nobody waits for are exported in batches: once a full export request's worth
/// is queued (fewer, larger batches hold the proxy up on the shared thread less often: 128 measured a
/// worse p99 than 512)...
const BACKGROUND_BATCH_SPANS: usize = crate::export::MAX_BATCH_SPANS;
/// ...or this long after the first of them closed. Such environments are not frozen between
/// invocations, and one export request per invocation would cost the function CPU at high rates.
const BACKGROUND_FLUSH_DELAY: Duration = Duration::from_millis(100);
/// Time kept free before the invocation's deadline: the function timeout also bounds extension work,
/// so a flush must never push an invocation past it.
const DEADLINE_MARGIN: Duration = Duration::from_millis(25);

/// What waits for export, as the exporter sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Backlog {
    /// Items queued, all signals together.
    pub(super) queued: usize,
    /// When the exporter may send again, if it holds its requests back now.
    pub(super) blocked_until: Option<SystemTime>,
}

/// A lifecycle loop waiting for an invocation's spans.
#[derive(Debug)]
pub(super) struct Waiter {
    request_id: RequestId,
    deadline_ms: u64,
    /// When it is answered at the latest, complete or not.
    release_at: SystemTime,
    reply: oneshot::Sender<()>,
}

impl Waiter {
    fn answer(self) {
        // The lifecycle loop may have given up waiting; nobody is left to tell.
        let _ = self.reply.send(());
    }
}

/// A flush to run now, and the waiters it answers once done.
#[derive(Debug)]
pub(super) struct Flush {
    /// Longest the export may take.
    budget: Duration,
    released: Vec<Waiter>,
}

impl Flush {
    /// True when no waiter is answered by it: spans nobody waits for.
    pub(super) fn is_background(&self) -> bool {
        self.released.is_empty()
    }

    /// Runs `export` with the budget and occasion, then answers the released waiters.
    pub(super) async fn run<F, E>(self, export: E)
    where
        E: FnOnce(Duration, Occasion) -> F,
        F: Future<Output = ()>,
    {
        // Answered waiters go to `/event/next`, after which the sandbox may freeze.
        let occasion = if self.is_background() {
            Occasion::Background
        } else {
            Occasion::BeforeFreeze
        };
        export(self.budget, occasion).await;
        for waiter in self.released {
            waiter.answer();
        }
    }
}

/// The waiting lifecycle loops and the background flush schedule.
#[derive(Debug)]
pub(super) struct Releases {
    waiting: Vec<Waiter>,
    /// When spans nobody waits for are flushed at the latest.
    background_due: Option<SystemTime>,
    flush_timeout: Duration,
    /// Spans are exported at all.
    exporting: bool,
    /// The Telemetry API subscription succeeded.
    telemetry_expected: bool,
    /// The proxy has reported at least one record (the runtime goes through it).
    proxy_seen: bool,
}

impl Releases {
    /// No waiters yet; flushes take at most `flush_timeout`; `exporting` says whether spans are
    /// exported at all.
    pub(super) fn new(exporting: bool, flush_timeout: Duration) -> Self {
        Self {
            waiting: Vec::new(),
            background_due: None,
            flush_timeout,
            exporting,
            telemetry_expected: true,
            proxy_seen: false,
        }
    }

    /// Notes whether `platform.runtimeDone` will arrive (the subscription's outcome).
    pub(super) fn set_telemetry_expected(&mut self, expected: bool) {
        self.telemetry_expected = expected;
    }

    /// Notes a proxy record. The first one shows that the runtime uses the proxy, so its invocations
    /// will complete: every waiter may then wait until just before its deadline.
    pub(super) fn proxy_record(&mut self, now: SystemTime) {
        if self.proxy_seen {
            return;
        }
        self.proxy_seen = true;
        for waiter in &mut self.waiting {
            waiter.release_at = by_deadline(waiter.deadline_ms, now);
        }
    }

    /// Adds a lifecycle loop waiting for `request_id`'s spans.
    pub(super) fn wait(
        &mut self,
        request_id: RequestId,
        deadline_ms: u64,
        reply: oneshot::Sender<()>,
        now: SystemTime,
    ) {
        let release_at = self.release_time(deadline_ms, now);
        // Its flush carries whatever is queued: a background flush scheduled before (a retry
        // after a failed one, overdue after a thaw) would only run ahead of it and hold it up.
        self.background_due = None;
        self.waiting.push(Waiter {
            request_id,
            deadline_ms,
            release_at,
            reply,
        });
    }

    /// When a waiter for an invocation due at `deadline_ms` is answered at the latest.
    fn release_time(&self, deadline_ms: u64, now: SystemTime) -> SystemTime {
        let by_deadline = by_deadline(deadline_ms, now);
        let cap = if !self.exporting {
            now
        } else if !self.telemetry_expected && !self.proxy_seen {
            now + FIRST_EVENT_WAIT
        } else {
            by_deadline
        };
        cap.min(by_deadline)
    }

    /// The next time [`Releases::due`] may decide differently without new input.
    pub(super) fn next_wake(&self) -> Option<SystemTime> {
        let release = self.waiting.iter().map(|w| w.release_at).min();
        [release, self.background_due].into_iter().flatten().min()
    }

    /// The flush to run at `now`, if any: when a waiter is ready (its invocation is no longer open,
    /// or its release time came), or when the background batch is due. `closed_any` says whether the
    /// last input closed an invocation; `backlog` tells what waits for export, asked only when a
    /// background flush may be due (not while a waiter stays, most inputs of an invocation).
    pub(super) fn due(
        &mut self,
        now: SystemTime,
        closed_any: bool,
        backlog: impl FnOnce() -> Backlog,
        is_open: impl Fn(&RequestId) -> bool,
    ) -> Option<Flush> {
        let ready = |w: &Waiter| !is_open(&w.request_id) || w.release_at <= now;
        // Checked first: this runs after every input, and a waiter usually stays for several.
        let released = if self.waiting.iter().any(ready) {
            // Taken out in place, in order: the waiting list keeps its allocation for the next
            // INVOKE (one waiter at a time there).
            let mut released = Vec::new();
            let mut at = 0;
            while at < self.waiting.len() {
                if ready(&self.waiting[at]) {
                    released.push(self.waiting.remove(at));
                } else {
                    at += 1;
                }
            }
            released
        } else {
            Vec::new()
        };
        if released.is_empty() && !self.waiting.is_empty() && self.background_due.is_none() {
            // Only a background flush could be due, and waiters keep it from being scheduled.
            return None;
        }
        let backlog = backlog();
        let queued = backlog.queued;
        let blocked = backlog.blocked_until.filter(|until| *until > now);
        if self.waiting.is_empty() && queued > 0 && self.background_due.is_none() {
            // After a closed invocation: the batch delay; while held back: when the exporter may
            // send again (the queue then drains without waiting for the next invocation).
            self.background_due = match (closed_any, blocked) {
                (true, _) => Some((now + BACKGROUND_FLUSH_DELAY).max(blocked.unwrap_or(now))),
                (false, Some(until)) => Some(until),
                (false, None) => None,
            };
        }
        if let (Some(due), Some(until)) = (self.background_due, blocked) {
            // Nothing could be sent before then: one attempt per backoff step.
            self.background_due = Some(due.max(until));
        }
        let background = blocked.is_none()
            && self
                .background_due
                .is_some_and(|due| due <= now || queued >= BACKGROUND_BATCH_SPANS);
        if released.is_empty() && !background {
            return None;
        }
        // One flush sends everything queued, the background batch included; while the exporter is
        // held back it sends nothing, so the background attempt stays scheduled.
        if blocked.is_none() {
            self.background_due = None;
        }
        let budget = released
            .iter()
            .map(|w| time_before_deadline(w.deadline_ms, now))
            .fold(self.flush_timeout, Duration::min);
        Some(Flush { budget, released })
    }

    /// After a background flush: what it left queued (the collector failed or held it back) is
    /// tried again without new input, when the exporter may send again, or after the batch delay.
    /// Without this, with no invocation coming (Managed Instances at rest), it would wait for the
    /// next input or SHUTDOWN, even once the collector is back.
    pub(super) fn after_background_flush(&mut self, now: SystemTime, backlog: Backlog) {
        if self.waiting.is_empty() && backlog.queued > 0 && self.background_due.is_none() {
            let retry = backlog
                .blocked_until
                .filter(|until| *until > now)
                .unwrap_or(now + BACKGROUND_FLUSH_DELAY);
            self.background_due = Some(retry);
        }
    }

    /// Answers every waiter at once (shutdown: the environment is going away).
    pub(super) fn release_all(&mut self) {
        for waiter in self.waiting.drain(..) {
            waiter.answer();
        }
    }
}

/// The latest moment to be back in `/event/next` for an invocation due at `deadline_ms`.
fn by_deadline(deadline_ms: u64, now: SystemTime) -> SystemTime {
    match deadline_at(deadline_ms) {
        Some(deadline) => deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(now),
        None => now + NO_DEADLINE_LIMIT,
    }
}

/// Time left at `now` until `deadline_ms` less [`DEADLINE_MARGIN`]; no deadline means no limit from
/// it.
fn time_before_deadline(deadline_ms: u64, now: SystemTime) -> Duration {
    match deadline_at(deadline_ms) {
        Some(deadline) => deadline
            .duration_since(now)
            .unwrap_or_default()
            .saturating_sub(DEADLINE_MARGIN),
        None => Duration::MAX,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::UNIX_EPOCH;

    use tokio::sync::oneshot::error::TryRecvError;

    use super::*;

    const FLUSH_TIMEOUT: Duration = Duration::from_millis(800);
    /// Epoch ms of the tests' `t(0)`.
    const EPOCH_MS: u64 = 1_700_000_000_000;

    fn t(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(EPOCH_MS + ms)
    }

    /// The epoch-ms deadline at the tests' `t(ms)`.
    fn deadline(ms: u64) -> u64 {
        EPOCH_MS + ms
    }

    fn id(s: &str) -> RequestId {
        RequestId::new(s)
    }

    fn releases() -> Releases {
        Releases::new(true, FLUSH_TIMEOUT)
    }

    /// Adds a waiter for `rid` at `now`; the receiver says whether it was answered.
    fn wait(
        releases: &mut Releases,
        rid: &str,
        deadline_ms: u64,
        now: SystemTime,
    ) -> oneshot::Receiver<()> {
        let (reply, answered) = oneshot::channel();
        releases.wait(id(rid), deadline_ms, reply, now);
        answered
    }

    fn released_ids(flush: &Flush) -> Vec<&str> {
        flush
            .released
            .iter()
            .map(|w| w.request_id.as_str())
            .collect()
    }

    fn queued(count: usize) -> impl FnOnce() -> Backlog {
        move || Backlog {
            queued: count,
            blocked_until: None,
        }
    }

    fn open(ids: &'static [&'static str]) -> impl Fn(&RequestId) -> bool {
        move |rid| ids.contains(&rid.as_str())
    }

    #[test]
    fn a_waiter_is_released_when_its_invocation_closes() {
        let mut r = releases();
        let _answered = wait(&mut r, "a", deadline(3000), t(0));
        assert!(
            r.due(t(10), false, queued(0), open(&["a"])).is_none(),
            "still open"
        );
        let flush = r
            .due(t(20), true, queued(4), open(&[]))
            .expect("closed: released");
        assert_eq!(released_ids(&flush), ["a"]);
        assert_eq!(flush.budget, FLUSH_TIMEOUT, "far from the deadline");
        assert!(r.next_wake().is_none(), "nobody waits any more");
    }

    #[test]
    fn an_open_invocation_is_released_just_before_its_deadline() {
        let mut r = releases();
        let _answered = wait(&mut r, "a", deadline(3000), t(0));
        let release_at = t(3000) - DEADLINE_MARGIN;
        assert_eq!(r.next_wake(), Some(release_at));
        assert!(r
            .due(
                release_at - Duration::from_millis(1),
                false,
                queued(0),
                open(&["a"])
            )
            .is_none());
        let flush = r
            .due(release_at, false, queued(0), open(&["a"]))
            .expect("released at its time, complete or not");
        assert_eq!(released_ids(&flush), ["a"]);
        assert_eq!(
            flush.budget,
            Duration::ZERO,
            "no time left: nothing flushed"
        );
    }

    #[test]
    fn the_flush_budget_never_reaches_past_the_deadline() {
        let mut r = releases();
        let _a = wait(&mut r, "a", deadline(3000), t(0));
        let _b = wait(&mut r, "b", deadline(2300), t(0));
        let flush = r
            .due(t(2000), true, queued(2), open(&[]))
            .expect("both closed");
        assert_eq!(released_ids(&flush), ["a", "b"]);
        assert_eq!(
            flush.budget,
            Duration::from_millis(300) - DEADLINE_MARGIN,
            "the nearest deadline bounds the flush"
        );
        let mut r = releases();
        let _c = wait(&mut r, "c", deadline(1000), t(0));
        let flush = r.due(t(2000), true, queued(1), open(&[])).expect("closed");
        assert_eq!(flush.budget, Duration::ZERO, "past its deadline");
    }

    #[test]
    fn without_a_deadline_the_flush_timeout_bounds_the_wait_and_the_flush() {
        let mut r = releases();
        let _answered = wait(&mut r, "a", 0, t(0));
        assert_eq!(r.next_wake(), Some(t(0) + NO_DEADLINE_LIMIT));
        let flush = r.due(t(5), true, queued(1), open(&[])).expect("closed");
        assert_eq!(flush.budget, FLUSH_TIMEOUT);
    }

    #[test]
    fn without_an_exporter_waiters_are_released_at_once() {
        let mut r = Releases::new(false, FLUSH_TIMEOUT);
        let _answered = wait(&mut r, "a", deadline(3000), t(0));
        let flush = r
            .due(t(0), false, queued(0), open(&["a"]))
            .expect("nothing can complete it");
        assert_eq!(released_ids(&flush), ["a"]);
    }

    #[test]
    fn without_telemetry_the_first_proxy_record_extends_the_wait_to_the_deadline() {
        let mut r = releases();
        r.set_telemetry_expected(false);
        let _answered = wait(&mut r, "a", deadline(3000), t(0));
        assert_eq!(
            r.next_wake(),
            Some(t(0) + FIRST_EVENT_WAIT),
            "the runtime may not use the proxy"
        );
        r.proxy_record(t(50));
        assert_eq!(r.next_wake(), Some(t(3000) - DEADLINE_MARGIN));
        assert!(r.due(t(300), false, queued(0), open(&["a"])).is_none());

        // Once the proxy was seen, later waiters wait for their deadline from the start.
        let _b = wait(&mut r, "b", deadline(2000), t(400));
        assert_eq!(r.next_wake(), Some(t(2000) - DEADLINE_MARGIN));
    }

    #[test]
    fn without_telemetry_or_proxy_records_the_waiter_is_released_after_the_first_event_wait() {
        let mut r = releases();
        r.set_telemetry_expected(false);
        let _answered = wait(&mut r, "a", deadline(3000), t(0));
        let flush = r
            .due(t(0) + FIRST_EVENT_WAIT, false, queued(0), open(&["a"]))
            .expect("released: nothing will complete it");
        assert_eq!(released_ids(&flush), ["a"]);
    }

    #[test]
    fn spans_nobody_waits_for_are_flushed_after_a_delay_or_a_full_batch() {
        let mut r = releases();
        assert!(
            r.due(t(0), true, queued(3), open(&[])).is_none(),
            "the first closed invocation starts the delay"
        );
        assert_eq!(r.next_wake(), Some(t(0) + BACKGROUND_FLUSH_DELAY));
        assert!(
            r.due(t(50), true, queued(6), open(&[])).is_none(),
            "within the delay"
        );
        let flush = r
            .due(t(0) + BACKGROUND_FLUSH_DELAY, false, queued(6), open(&[]))
            .expect("the delay is over");
        assert!(flush.released.is_empty());
        assert_eq!(flush.budget, FLUSH_TIMEOUT);
        assert!(r.next_wake().is_none());

        assert!(r.due(t(200), true, queued(1), open(&[])).is_none());
        let flush = r
            .due(t(201), true, queued(BACKGROUND_BATCH_SPANS), open(&[]))
            .expect("a full batch goes at once");
        assert!(flush.released.is_empty());
    }

    #[test]
    fn while_export_is_held_back_background_flushes_wait_for_it_once_per_step() {
        let mut r = releases();
        let blocked = |until: SystemTime, count: usize| {
            move || Backlog {
                queued: count,
                blocked_until: Some(until),
            }
        };
        assert!(r.due(t(0), true, blocked(t(5000), 3), open(&[])).is_none());
        assert_eq!(
            r.next_wake(),
            Some(t(5000)),
            "not the batch delay: the probe time"
        );
        for ms in [100, 200, 4999] {
            assert!(
                r.due(
                    t(ms),
                    true,
                    blocked(t(5000), BACKGROUND_BATCH_SPANS),
                    open(&[])
                )
                .is_none(),
                "no flush per invocation while held back ({ms} ms)"
            );
        }
        let flush = r
            .due(t(5000), false, queued(3), open(&[]))
            .expect("one attempt when the step has passed");
        assert!(flush.released.is_empty());
        assert!(r.next_wake().is_none());
        assert!(r
            .due(t(5001), false, blocked(t(9000), 3), open(&[]))
            .is_none());
        assert_eq!(
            r.next_wake(),
            Some(t(9000)),
            "still queued after a failed attempt: the next step, without a new invocation"
        );
    }

    #[test]
    fn a_failed_background_flush_is_tried_again_without_new_input() {
        let mut r = releases();
        let flush = r
            .due(t(0), true, queued(BACKGROUND_BATCH_SPANS), open(&[]))
            .expect("a full batch goes at once");
        assert!(flush.is_background());
        assert!(r.next_wake().is_none(), "nothing scheduled while it runs");
        // The attempt failed and opened the circuit until t(5000); no input follows.
        r.after_background_flush(
            t(250),
            Backlog {
                queued: 3,
                blocked_until: Some(t(5000)),
            },
        );
        assert_eq!(r.next_wake(), Some(t(5000)), "the next step");
        let flush = r
            .due(t(5000), false, queued(3), open(&[]))
            .expect("the retry at the step's end");
        assert!(flush.is_background());
        // Sent in part (the budget ran out), not held back: after the batch delay.
        r.after_background_flush(t(5100), queued(2)());
        assert_eq!(r.next_wake(), Some(t(5100) + BACKGROUND_FLUSH_DELAY));
        // Everything sent: nothing to schedule.
        let mut r = releases();
        r.after_background_flush(t(0), queued(0)());
        assert!(r.next_wake().is_none());
    }

    #[test]
    fn a_background_flush_while_an_invocation_waits_schedules_no_retry() {
        let mut r = releases();
        let _answered = wait(&mut r, "a", deadline(3000), t(0));
        r.after_background_flush(
            t(0),
            Backlog {
                queued: 3,
                blocked_until: Some(t(5000)),
            },
        );
        assert_eq!(r.background_due, None, "the waiter's own flush comes first");
    }

    #[test]
    fn an_invocation_cancels_a_background_retry_its_own_flush_makes_needless() {
        let mut r = releases();
        r.after_background_flush(
            t(0),
            Backlog {
                queued: 3,
                blocked_until: None,
            },
        );
        assert_eq!(r.next_wake(), Some(t(0) + BACKGROUND_FLUSH_DELAY));
        let _answered = wait(&mut r, "a", deadline(3000), t(50));
        assert_eq!(
            r.next_wake(),
            Some(t(3000) - DEADLINE_MARGIN),
            "only the waiter's release time"
        );
        assert!(
            r.due(t(150), false, queued(3), open(&["a"])).is_none(),
            "no background flush ahead of the invocation's own"
        );
    }

    #[test]
    fn no_background_flush_is_scheduled_while_a_waiter_will_flush() {
        let mut r = releases();
        let _answered = wait(&mut r, "a", deadline(3000), t(0));
        assert!(r.due(t(10), true, queued(3), open(&["a"])).is_none());
        assert_eq!(r.next_wake(), Some(t(3000) - DEADLINE_MARGIN));
    }

    #[test]
    fn nothing_queued_schedules_nothing() {
        let mut r = releases();
        assert!(r.due(t(0), true, queued(0), open(&[])).is_none());
        assert!(r.next_wake().is_none());
    }

    #[tokio::test]
    async fn waiters_are_answered_only_after_the_flush() {
        let mut r = releases();
        let mut answered = wait(&mut r, "a", deadline(3000), t(0));
        let flush = r.due(t(10), true, queued(1), open(&[])).expect("closed");
        let exported = Cell::new(None);
        let (exported_in, during_export) = (&exported, &mut answered);
        flush
            .run(|budget, occasion| async move {
                exported_in.set(Some((budget, occasion)));
                tokio::task::yield_now().await;
                assert_eq!(
                    during_export.try_recv(),
                    Err(TryRecvError::Empty),
                    "not answered before the export is done"
                );
            })
            .await;
        assert_eq!(
            exported.get(),
            Some((FLUSH_TIMEOUT, Occasion::BeforeFreeze)),
            "answered waiters may be frozen next"
        );
        assert_eq!(answered.try_recv(), Ok(()), "answered after the export");
    }

    #[test]
    fn shutdown_answers_every_waiter() {
        let mut r = releases();
        let mut a = wait(&mut r, "a", deadline(3000), t(0));
        let mut b = wait(&mut r, "b", 0, t(0));
        r.release_all();
        assert_eq!(a.try_recv(), Ok(()));
        assert_eq!(b.try_recv(), Ok(()));
        assert!(r.next_wake().is_none());
    }
}
