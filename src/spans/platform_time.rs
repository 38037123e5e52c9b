//! The platform's durations (milliseconds, as `f64`) as time. The Telemetry API may send negative,
//! non-finite or absurd values; none of them may panic here.

use std::time::{Duration, SystemTime};

/// A platform duration as a `Duration`; `None` for negative, non-finite or absurd values.
pub(super) fn platform_duration(ms: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(ms / 1000.0).ok()
}

/// `start` plus `ms`, or `start` when `ms` is unusable.
pub(super) fn after(start: SystemTime, ms: f64) -> SystemTime {
    platform_duration(ms)
        .and_then(|d| start.checked_add(d))
        .unwrap_or(start)
}
