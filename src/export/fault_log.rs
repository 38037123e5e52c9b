//! How often export failures are logged: at most one line per failure kind per
//! [`LOG_INTERVAL`] for each collector (the signals sent to one host share its log, so three
//! signals to a collector that is down still make one line), each with the counts since the
//! outage began, plus one line when what was told is over. Outages are the collector's (no
//! answer, `Retry-After`: over when any signal is answered again) or one signal's path (refusals
//! for now: over when that signal is answered again); a recovery gets its line when the outage
//! it ends was told (an outage whose failure line the interval held back is recovered from
//! without a line, so a collector failing every other request makes one line per kind per
//! interval, not two per failure). Queue overflow is a kind of its own per signal: at most one
//! line per interval, with that signal's items dropped since the last one. Pure: time is passed
//! in; the signal that hit the failure words the line.
//!
//! The counts a line carries are the ones the caller passes at that moment (items queued,
//! dropped in total), so a line never claims more than what was kept or dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, SystemTime};

use super::failure::FailureKind;
use crate::settings::Signal;

/// At most one line per failure kind per collector in this interval.
pub const LOG_INTERVAL: Duration = Duration::from_secs(60);

/// What a failure line says about the outage so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FailureLine {
    /// Failed attempts since the outage began (this one included).
    pub(crate) attempts: u64,
    /// Failures of this kind not logged since the last line of this kind.
    pub(crate) unlogged: u64,
}

/// What the recovery line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecoveryLine {
    /// Failed attempts during the outage.
    pub(crate) failed_attempts: u64,
    /// How long the outage lasted.
    pub(crate) outage: Duration,
}

/// Whose outage a failure belongs to (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    /// No answer or `Retry-After`: the collector's.
    Collector,
    /// An answer refusing this signal's request for now: its path's.
    Path(Signal),
}

/// One outage: since when, with how many failed attempts, and whether a line told it.
#[derive(Debug, Clone, Copy)]
struct Outage {
    since: SystemTime,
    attempts: u64,
    told: bool,
}

/// The rate limiter of one collector's failure lines.
#[derive(Debug, Default)]
pub(crate) struct FaultLog {
    /// Per kind: when its last line was logged, and its failures held back since.
    last_line: HashMap<FailureKind, (Option<SystemTime>, u64)>,
    outages: HashMap<Scope, Outage>,
    /// Per signal: when its last overflow line was logged, and its items dropped by overflow since.
    overflows: HashMap<Signal, (Option<SystemTime>, u64)>,
}

impl FaultLog {
    /// Notes a failure of `kind` in `scope` at `now`; a line is due when this returns one.
    pub(crate) fn failed(
        &mut self,
        kind: FailureKind,
        scope: Scope,
        now: SystemTime,
    ) -> Option<FailureLine> {
        if kind == FailureKind::Rejected {
            // The collector answered: a batch refused for good is no outage to recover from.
            let attempts = self.outages.get(&scope).map_or(0, |outage| outage.attempts);
            return self.failure_line(kind, now, attempts);
        }
        let outage = self.outages.entry(scope).or_insert(Outage {
            since: now,
            attempts: 0,
            told: false,
        });
        outage.attempts += 1;
        let attempts = outage.attempts;
        let line = self.failure_line(kind, now, attempts);
        if line.is_some() {
            if let Some(outage) = self.outages.get_mut(&scope) {
                outage.told = true;
            }
        }
        line
    }

    fn failure_line(
        &mut self,
        kind: FailureKind,
        now: SystemTime,
        attempts: u64,
    ) -> Option<FailureLine> {
        let unlogged = due(&mut self.last_line, kind, 1, now)?;
        Some(FailureLine { attempts, unlogged })
    }

    /// Notes a request of `signal` delivered at `now`: it ends the collector's outage and the
    /// signal's path's. The recovery line is due when this returns one (either outage was told).
    /// The kinds' intervals keep running, so a flapping endpoint still logs at most one failure
    /// line per kind per interval, and as many recovery lines.
    pub(crate) fn delivered(&mut self, signal: Signal, now: SystemTime) -> Option<RecoveryLine> {
        let ended = [
            self.outages.remove(&Scope::Collector),
            self.outages.remove(&Scope::Path(signal)),
        ];
        let ended = ended.iter().flatten();
        if !ended.clone().any(|outage| outage.told) {
            return None;
        }
        let since = ended.clone().map(|outage| outage.since).min()?;
        Some(RecoveryLine {
            failed_attempts: ended.map(|outage| outage.attempts).sum(),
            outage: now.duration_since(since).unwrap_or_default(),
        })
    }

    /// Notes `dropped` items of `signal` dropped from its full queue at `now`; when a line is due,
    /// returns the signal's items dropped by overflow since its last line (these included).
    pub(crate) fn overflowed(
        &mut self,
        signal: Signal,
        dropped: u64,
        now: SystemTime,
    ) -> Option<u64> {
        Some(due(&mut self.overflows, signal, dropped, now)? + dropped)
    }
}

/// Notes `count` more of what `key`'s lines tell, at `now`: when a line is due (none for `key`
/// within [`LOG_INTERVAL`]), returns how many were held back since its last line, these `count`
/// not included; `lines` keeps each key's last line time and what was held back since.
fn due<K: Hash + Eq>(
    lines: &mut HashMap<K, (Option<SystemTime>, u64)>,
    key: K,
    count: u64,
    now: SystemTime,
) -> Option<u64> {
    let (logged_at, held_back) = lines.entry(key).or_insert((None, 0));
    if logged_at.is_some_and(|at| now.duration_since(at).unwrap_or_default() < LOG_INTERVAL) {
        *held_back += count;
        return None;
    }
    *logged_at = Some(now);
    Some(std::mem::take(held_back))
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    const C: Scope = Scope::Collector;

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn a_rejected_batch_is_no_outage() {
        let mut log = FaultLog::default();
        let now = SystemTime::UNIX_EPOCH;
        assert!(log.failed(FailureKind::Rejected, C, now).is_some());
        assert_eq!(
            log.delivered(Signal::Traces, now),
            None,
            "nothing recovered"
        );
    }

    #[test]
    fn an_outage_whose_failure_line_was_held_back_recovers_without_a_line() {
        let mut log = FaultLog::default();
        assert!(log.failed(FailureKind::Refused, C, t(0)).is_some());
        assert!(
            log.delivered(Signal::Traces, t(1)).is_some(),
            "the logged outage's recovery"
        );
        for second in 2..50 {
            assert_eq!(log.failed(FailureKind::Refused, C, t(second)), None);
            assert_eq!(
                log.delivered(Signal::Traces, t(second)),
                None,
                "its outage was never told"
            );
        }
        assert_eq!(
            log.failed(FailureKind::Refused, C, t(60)),
            Some(FailureLine {
                attempts: 1,
                unlogged: 48
            })
        );
        assert_eq!(
            log.delivered(Signal::Traces, t(61)),
            Some(RecoveryLine {
                failed_attempts: 1,
                outage: Duration::from_secs(1)
            })
        );
    }

    #[test]
    fn a_paths_told_outage_ends_with_that_paths_delivery_and_the_collectors_with_any() {
        let logs = Scope::Path(Signal::Logs);
        let mut log = FaultLog::default();
        assert!(log.failed(FailureKind::Refused, logs, t(0)).is_some());
        assert_eq!(
            log.failed(FailureKind::Refused, Scope::Path(Signal::Traces), t(1)),
            None
        );
        assert_eq!(
            log.delivered(Signal::Traces, t(2)),
            None,
            "the traces path's outage was never told"
        );
        assert_eq!(log.failed(FailureKind::Refused, logs, t(3)), None);
        assert_eq!(
            log.delivered(Signal::Logs, t(4)),
            Some(RecoveryLine {
                failed_attempts: 2,
                outage: Duration::from_secs(4)
            })
        );
        assert!(log.failed(FailureKind::Unreachable, C, t(5)).is_some());
        assert_eq!(
            log.delivered(Signal::Metrics, t(7)),
            Some(RecoveryLine {
                failed_attempts: 1,
                outage: Duration::from_secs(2)
            }),
            "any signal's delivery ends the collector's outage"
        );
    }

    #[test]
    fn overflow_is_told_at_most_once_per_interval_with_the_drops_since() {
        let mut log = FaultLog::default();
        assert_eq!(log.overflowed(Signal::Traces, 3, t(0)), Some(3));
        assert_eq!(log.overflowed(Signal::Traces, 5, t(30)), None);
        assert_eq!(log.overflowed(Signal::Traces, 1000, t(59)), None);
        assert_eq!(log.overflowed(Signal::Traces, 2, t(60)), Some(1007));
        assert_eq!(log.overflowed(Signal::Traces, 1, t(61)), None);
        assert_eq!(
            log.overflowed(Signal::Logs, 1000, t(61)),
            Some(1000),
            "each signal has its own line"
        );
        assert!(
            log.failed(FailureKind::Unreachable, C, t(61)).is_some(),
            "failure kinds have intervals of their own"
        );
    }

    #[test]
    fn one_line_per_kind_per_interval_with_counts() {
        let mut log = FaultLog::default();
        assert_eq!(
            log.failed(FailureKind::Unreachable, C, t(0)),
            Some(FailureLine {
                attempts: 1,
                unlogged: 0
            })
        );
        for second in 1..60 {
            assert_eq!(log.failed(FailureKind::Unreachable, C, t(second)), None);
        }
        assert_eq!(
            log.failed(FailureKind::TimedOut, C, t(59)),
            Some(FailureLine {
                attempts: 61,
                unlogged: 0
            }),
            "another kind has its own interval"
        );
        assert_eq!(
            log.failed(FailureKind::Unreachable, C, t(60)),
            Some(FailureLine {
                attempts: 62,
                unlogged: 59
            })
        );
        assert_eq!(
            log.delivered(Signal::Traces, t(90)),
            Some(RecoveryLine {
                failed_attempts: 62,
                outage: Duration::from_secs(90)
            })
        );
        assert_eq!(
            log.delivered(Signal::Traces, t(91)),
            None,
            "one recovery line"
        );
        assert_eq!(
            log.failed(FailureKind::Unreachable, C, t(100)),
            None,
            "within the interval of the last line of this kind"
        );
        assert_eq!(
            log.failed(FailureKind::Unreachable, C, t(120)),
            Some(FailureLine {
                attempts: 2,
                unlogged: 1
            }),
            "a new outage counts from one"
        );
    }
}
