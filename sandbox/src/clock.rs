//! Wall-clock helpers: epoch milliseconds and the Telemetry API's ISO-8601 timestamp format.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A moment captured on both clocks: `Instant` for measuring durations, `SystemTime` for the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp {
    pub instant: Instant,
    pub wall: SystemTime,
}

impl Stamp {
    pub fn now() -> Self {
        Self {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// Milliseconds (fractional) from `self` to `later`, as the Telemetry API's `durationMs` doubles.
    pub fn ms_until(&self, later: &Stamp) -> f64 {
        duration_ms(later.instant.saturating_duration_since(self.instant))
    }
}

/// A duration as fractional milliseconds with microsecond resolution (Lambda prints three decimals).
pub(crate) fn duration_ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// Unix epoch milliseconds, as used by `Lambda-Runtime-Deadline-Ms` and `deadlineMs`.
pub(crate) fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Formats `t` as `2006-01-02T15:04:05.000Z` (UTC, millisecond precision) like the Telemetry API.
pub(crate) fn iso8601_ms(t: SystemTime) -> String {
    let ms = epoch_ms(t);
    let secs = ms / 1000;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms % 1000
    )
}

/// `YYYY/MM/DD` of `t` (UTC), the date prefix of a Lambda log stream name.
pub(crate) fn date_path(t: SystemTime) -> String {
    let (year, month, day) = civil_from_days((epoch_ms(t) / 86_400_000) as i64);
    format!("{year:04}/{month:02}/{day:02}")
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let t = UNIX_EPOCH + Duration::from_millis(1_136_214_245_007);
        assert_eq!(iso8601_ms(t), "2006-01-02T15:04:05.007Z");
        assert_eq!(date_path(t), "2006/01/02");
        let leap = UNIX_EPOCH + Duration::from_millis(951_782_400_000);
        assert_eq!(iso8601_ms(leap), "2000-02-29T00:00:00.000Z");
    }
}
