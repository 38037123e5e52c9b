//! `Retry-After` (RFC 9110 §10.2.3) on a 429 or 503 answer: a number of seconds or an HTTP-date,
//! turned into the moment before which no request is sent. Pure.

use std::time::{Duration, SystemTime};

/// The longest wait a `Retry-After` can impose: a collector asking for more is taken to mean this
/// long, so that a wrong header cannot stop export for hours (the queue would drop everything).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A parsed `Retry-After` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryAfter {
    /// `Retry-After: 2`.
    Seconds(u64),
    /// `Retry-After: Sun, 06 Nov 1994 08:49:37 GMT`.
    Date(SystemTime),
}

impl RetryAfter {
    /// Parses a header value; `None` when it is neither form.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Self::Seconds(seconds));
        }
        httpdate::parse_http_date(value).ok().map(Self::Date)
    }

    /// The moment, seen at `now`, before which no request may go: at most [`MAX_RETRY_AFTER`]
    /// away, and never before `now`.
    pub(crate) fn not_before(self, now: SystemTime) -> SystemTime {
        let wait = match self {
            Self::Seconds(seconds) => Duration::from_secs(seconds),
            Self::Date(date) => date.duration_since(now).unwrap_or_default(),
        };
        now + wait.min(MAX_RETRY_AFTER)
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn seconds_and_dates_become_a_moment_capped_at_the_maximum() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(RetryAfter::parse(" 2 "), Some(RetryAfter::Seconds(2)));
        assert_eq!(
            RetryAfter::parse("2").map(|r| r.not_before(now)),
            Some(now + Duration::from_secs(2))
        );
        let date = RetryAfter::parse("Sun, 06 Nov 1994 08:49:47 GMT").expect("an IMF-fixdate");
        assert_eq!(date.not_before(now), now + Duration::from_secs(10));
        let past = RetryAfter::parse("Sun, 06 Nov 1994 08:00:00 GMT").expect("an IMF-fixdate");
        assert_eq!(past.not_before(now), now, "a date in the past means now");
        assert_eq!(
            RetryAfter::Seconds(86_400).not_before(now),
            now + MAX_RETRY_AFTER
        );
        assert_eq!(RetryAfter::parse("soon"), None);
        assert_eq!(RetryAfter::parse("-1"), None);
    }
}
