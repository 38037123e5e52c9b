//! The times of Telemetry API events and spans: the platform's own shape read directly, anything
//! else through the general RFC 3339 reader.
//!
//! The platform writes every time as `YYYY-MM-DDTHH:MM:SS.sssZ`; a delivery carries several (each
//! event's `time`, each span's `start`), so that exact shape is read digit by digit. Any other
//! text, and any value of that shape the direct reading does not vouch for (a leap second, a year
//! before 1970, an impossible date), goes to `humantime`, which decides as it always did.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The length of the platform's shape, `YYYY-MM-DDTHH:MM:SS.sssZ`.
const PLATFORM_TIME_LEN: usize = 24;

/// Reads an ISO-8601 UTC time; also accepts `HH:MM:SS:mmm`, the shape of a published doc example.
pub(super) fn parse_time(raw: &str) -> Option<SystemTime> {
    platform_time(raw).or_else(|| general_time(raw))
}

/// `raw` read by `humantime`, or with the doc example's colon before the milliseconds.
fn general_time(raw: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(raw).ok().or_else(|| {
        let colon_before_millis = raw.len() > 20 && raw.as_bytes()[19] == b':';
        colon_before_millis
            .then(|| format!("{}.{}", &raw[..19], &raw[20..]))
            .and_then(|fixed| humantime::parse_rfc3339_weak(&fixed).ok())
    })
}

/// `raw` when it is exactly `YYYY-MM-DDTHH:MM:SS.sssZ` with a real date from 1970 on and a time
/// without a leap second; `None` for anything else.
fn platform_time(raw: &str) -> Option<SystemTime> {
    let b: &[u8; PLATFORM_TIME_LEN] = raw.as_bytes().try_into().ok()?;
    let separators = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ];
    if b[23] != b'Z' || separators.iter().any(|&(at, sep)| b[at] != sep) {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
        })
    };
    let year = number(&b[0..4])?;
    let month = number(&b[5..7])?;
    let day = number(&b[8..10])?;
    let hour = number(&b[11..13])?;
    let minute = number(&b[14..16])?;
    let second = number(&b[17..19])?;
    let millis = number(&b[20..23])?;
    if year < 1970 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_since_epoch(year, month, day)?;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_millis(seconds * 1000 + millis))
}

/// Days from 1970-01-01 to `year`-`month`-`day` (a year from 1970 on); `None` for a date that
/// does not exist.
fn days_since_epoch(year: u64, month: u64, day: u64) -> Option<u64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let (days_before_month, days_in_month) = match month {
        1 => (0, 31),
        2 => (31, if leap { 29 } else { 28 }),
        3 => (59, 31),
        4 => (90, 30),
        5 => (120, 31),
        6 => (151, 30),
        7 => (181, 31),
        8 => (212, 31),
        9 => (243, 30),
        10 => (273, 31),
        11 => (304, 30),
        12 => (334, 31),
        _ => return None,
    };
    if day == 0 || day > days_in_month {
        return None;
    }
    let leap_day = u64::from(leap && month > 2);
    // Leap days of the years 1970 up to `year` (exclusive): every 4th year from 1972, less the
    // centuries from 2100, plus the 400th years from 2000.
    let before = year - 1;
    let leap_days = (before / 4 - 492) - (before / 100 - 19) + (before / 400 - 4);
    Some((year - 1970) * 365 + leap_days + days_before_month + leap_day + day - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn times_with_and_without_millis_and_the_doc_typo() {
        // 2022-08-02T12:01:23.521Z = 1659441683521 ms.
        assert_eq!(
            parse_time("2022-08-02T12:01:23.521Z"),
            Some(at_ms(1_659_441_683_521))
        );
        assert_eq!(
            parse_time("2022-08-02T12:01:23:521Z"),
            Some(at_ms(1_659_441_683_521))
        );
        assert_eq!(
            parse_time("2022-08-02T12:01:23Z"),
            Some(at_ms(1_659_441_683_000))
        );
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2022-08-02T12:01:23+02:00"), None);
    }

    /// Every day from 1970 to 2500 at several times of day, and texts of the platform's shape
    /// with each field just inside and just outside its range: the direct reading agrees with
    /// `humantime` wherever it answers, and it answers for every real platform time.
    #[test]
    fn the_direct_reading_agrees_with_the_general_one() {
        let mut texts = Vec::new();
        for year in (1970..=2500).chain([9999]) {
            for month in 0..=13 {
                for day in [0, 1, 15, 28, 29, 30, 31, 32] {
                    for time in ["00:00:00.000", "23:59:59.999", "12:34:56.789"] {
                        texts.push(format!("{year:04}-{month:02}-{day:02}T{time}Z"));
                    }
                }
            }
        }
        for odd in [
            "1969-12-31T23:59:59.999Z",
            "2024-02-29T23:59:60.000Z",
            "2024-02-29T24:00:00.000Z",
            "2024-02-29T23:60:00.000Z",
            "2024-02-29t23:00:00.000Z",
            "2024-02-29 23:00:00.000Z",
            "2024-02-29T23:00:00.000z",
            "2024-02-29T23:00:00,000Z",
            "2024-02-29T23:00:00.0a0Z",
            "2024-02-29T23:00:00.+00Z",
            "+024-02-29T23:00:00.000Z",
            "2024-02-29T23:00:00.0000",
            "2024-02-29T23:00:00.000Z ",
            "2024-02-29T23:00:00.00Z",
            "２０24-02-29T23:00:00.000Z",
        ] {
            texts.push(odd.to_owned());
        }
        let mut direct = 0;
        for text in &texts {
            let general = general_time(text);
            if let Some(time) = platform_time(text) {
                assert_eq!(Some(time), general, "{text}");
                direct += 1;
            }
            assert_eq!(parse_time(text), general, "{text}");
        }
        // The real dates among the days tried, each at three times of day.
        let real_days = |year: u64| {
            (1..=12)
                .map(|month| {
                    [1, 15, 28, 29, 30, 31]
                        .iter()
                        .filter(|&&day| days_since_epoch(year, month, day).is_some())
                        .count()
                })
                .sum::<usize>()
        };
        let expected: usize = (1970..=2500).chain([9999]).map(real_days).sum::<usize>() * 3;
        assert_eq!(direct, expected);
        assert_eq!(real_days(2024), 12 * 6 - 2 - 4);
        assert_eq!(real_days(2100), 12 * 6 - 3 - 4);
    }
}
