//! How often export failures are logged: at most one line per failure kind per
//! [`LOG_INTERVAL`] for each collector (the signals sent to one host share its log, so three
//! signals to a collector that is down still make one line), each with the counts since the
//! outage began, plus one line when the collector is back after an outage that was logged (an
//! outage whose failure line was held back by the interval is recovered from without a line, so
//! a collector failing every other request makes one line per kind per interval, not two per
//! failure). Queue overflow is a kind of its own: at most one line per interval, with the items
//! dropped since the last one. Pure: time is passed in; the signal that hit the failure words the
//! line.
//!
//! The counts a line carries are the ones the caller passes at that moment (items queued,
//! dropped in total), so a line never claims more than what was kept or dropped.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::failure::FailureKind;

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

/// The rate limiter of one collector's failure lines.
#[derive(Debug, Default)]
pub(crate) struct FaultLog {
    last_line: HashMap<FailureKind, (SystemTime, u64)>,
    /// Since when, and with how many failed attempts, the collector has failed.
    outage: Option<(SystemTime, u64)>,
    /// A failure line of the current outage was logged: its recovery gets a line.
    outage_logged: bool,
    /// When the last overflow line was logged, and the items dropped by overflow since.
    last_overflow: Option<(SystemTime, u64)>,
}

impl FaultLog {
    /// Notes a failure of `kind` at `now`; a line is due when this returns one.
    pub(crate) fn failed(&mut self, kind: FailureKind, now: SystemTime) -> Option<FailureLine> {
        let attempts = if kind == FailureKind::Rejected {
            // The collector answered: a batch refused for good is no outage to recover from.
            self.outage.map_or(0, |(_, attempts)| attempts)
        } else {
            let (_, attempts) = self.outage.get_or_insert((now, 0));
            *attempts += 1;
            *attempts
        };
        let line = self.failure_line(kind, now, attempts);
        if line.is_some() && kind != FailureKind::Rejected {
            self.outage_logged = true;
        }
        line
    }

    fn failure_line(
        &mut self,
        kind: FailureKind,
        now: SystemTime,
        attempts: u64,
    ) -> Option<FailureLine> {
        match self.last_line.get_mut(&kind) {
            Some((logged_at, unlogged))
                if now.duration_since(*logged_at).unwrap_or_default() < LOG_INTERVAL =>
            {
                *unlogged += 1;
                None
            }
            Some((logged_at, unlogged)) => {
                let line = FailureLine {
                    attempts,
                    unlogged: *unlogged,
                };
                *logged_at = now;
                *unlogged = 0;
                Some(line)
            }
            None => {
                self.last_line.insert(kind, (now, 0));
                Some(FailureLine {
                    attempts,
                    unlogged: 0,
                })
            }
        }
    }

    /// Notes a delivered request at `now`; the recovery line is due when this returns one (the
    /// first delivery after failures of which a line was logged). The kinds' intervals keep
    /// running, so a flapping endpoint still logs at most one failure line per kind per interval,
    /// and as many recovery lines.
    pub(crate) fn delivered(&mut self, now: SystemTime) -> Option<RecoveryLine> {
        let (since, failed_attempts) = self.outage.take()?;
        std::mem::take(&mut self.outage_logged).then(|| RecoveryLine {
            failed_attempts,
            outage: now.duration_since(since).unwrap_or_default(),
        })
    }

    /// Notes `dropped` items dropped from a full queue at `now`; when a line is due, returns the
    /// items dropped by overflow since the last line (these included).
    pub(crate) fn overflowed(&mut self, dropped: u64, now: SystemTime) -> Option<u64> {
        match &mut self.last_overflow {
            Some((logged_at, since))
                if now.duration_since(*logged_at).unwrap_or_default() < LOG_INTERVAL =>
            {
                *since += dropped;
                None
            }
            Some((logged_at, since)) => {
                let line = *since + dropped;
                *logged_at = now;
                *since = 0;
                Some(line)
            }
            None => {
                self.last_overflow = Some((now, 0));
                Some(dropped)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn a_rejected_batch_is_no_outage() {
        let mut log = FaultLog::default();
        let now = SystemTime::UNIX_EPOCH;
        assert!(log.failed(FailureKind::Rejected, now).is_some());
        assert_eq!(log.delivered(now), None, "nothing recovered");
    }

    #[test]
    fn an_outage_whose_failure_line_was_held_back_recovers_without_a_line() {
        let mut log = FaultLog::default();
        assert!(log.failed(FailureKind::Refused, t(0)).is_some());
        assert!(
            log.delivered(t(1)).is_some(),
            "the logged outage's recovery"
        );
        for second in 2..50 {
            assert_eq!(log.failed(FailureKind::Refused, t(second)), None);
            assert_eq!(log.delivered(t(second)), None, "its outage was never told");
        }
        assert_eq!(
            log.failed(FailureKind::Refused, t(60)),
            Some(FailureLine {
                attempts: 1,
                unlogged: 48
            })
        );
        assert_eq!(
            log.delivered(t(61)),
            Some(RecoveryLine {
                failed_attempts: 1,
                outage: Duration::from_secs(1)
            })
        );
    }

    #[test]
    fn overflow_is_told_at_most_once_per_interval_with_the_drops_since() {
        let mut log = FaultLog::default();
        assert_eq!(log.overflowed(3, t(0)), Some(3));
        assert_eq!(log.overflowed(5, t(30)), None);
        assert_eq!(log.overflowed(1000, t(59)), None);
        assert_eq!(log.overflowed(2, t(60)), Some(1007));
        assert_eq!(log.overflowed(1, t(61)), None);
        assert!(
            log.failed(FailureKind::Unreachable, t(61)).is_some(),
            "failure kinds have intervals of their own"
        );
    }

    #[test]
    fn one_line_per_kind_per_interval_with_counts() {
        let mut log = FaultLog::default();
        assert_eq!(
            log.failed(FailureKind::Unreachable, t(0)),
            Some(FailureLine {
                attempts: 1,
                unlogged: 0
            })
        );
        for second in 1..60 {
            assert_eq!(log.failed(FailureKind::Unreachable, t(second)), None);
        }
        assert_eq!(
            log.failed(FailureKind::TimedOut, t(59)),
            Some(FailureLine {
                attempts: 61,
                unlogged: 0
            }),
            "another kind has its own interval"
        );
        assert_eq!(
            log.failed(FailureKind::Unreachable, t(60)),
            Some(FailureLine {
                attempts: 62,
                unlogged: 59
            })
        );
        assert_eq!(
            log.delivered(t(90)),
            Some(RecoveryLine {
                failed_attempts: 62,
                outage: Duration::from_secs(90)
            })
        );
        assert_eq!(log.delivered(t(91)), None, "one recovery line");
        assert_eq!(
            log.failed(FailureKind::Unreachable, t(100)),
            None,
            "within the interval of the last line of this kind"
        );
        assert_eq!(
            log.failed(FailureKind::Unreachable, t(120)),
            Some(FailureLine {
                attempts: 2,
                unlogged: 1
            }),
            "a new outage counts from one"
        );
    }
}
