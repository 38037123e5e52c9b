//! How often export failures are logged: at most one line per failure kind per
//! [`LOG_INTERVAL`] for each collector (the signals sent to one host share its log, so three
//! signals to a collector that is down still make one line), each with the counts since the
//! outage began, plus one line when the collector is back. Pure: time is passed in; the signal
//! that hit the failure words the line.
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
    outage: Option<(SystemTime, u64)>,
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
    /// first delivery after failures). The kinds' intervals keep running, so a flapping
    /// endpoint still logs at most one failure line per kind per interval.
    pub(crate) fn delivered(&mut self, now: SystemTime) -> Option<RecoveryLine> {
        let (since, failed_attempts) = self.outage.take()?;
        Some(RecoveryLine {
            failed_attempts,
            outage: now.duration_since(since).unwrap_or_default(),
        })
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
