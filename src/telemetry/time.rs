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

/// Days before the first of each month in a year that is not a leap year.
const DAYS_BEFORE_MONTH: [u16; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/// Days of each month in a year that is not a leap year.
const DAYS_IN_MONTH: [u8; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// The platform's shape with every digit `0`: its separators as they must be.
const PLATFORM_TIME_ZEROS: &[u8; PLATFORM_TIME_LEN] = b"0000-00-00T00:00:00.000Z";

/// Bytes of a time read at once: one machine word.
const WORD: usize = 8;

/// [`PLATFORM_TIME_ZEROS`] in words, and per byte 0x7F less the largest value the byte may have once
/// XORed with it: 9 where a digit goes (the bytes `'0'..='9'` are exactly those that give 0 to 9),
/// 0 where a separator goes.
const PLATFORM_TIME_CHECK: [(u64, u64); PLATFORM_TIME_LEN / WORD] = {
    let mut check = [(0, 0); PLATFORM_TIME_LEN / WORD];
    let mut at = 0;
    while at < PLATFORM_TIME_LEN {
        let byte = PLATFORM_TIME_ZEROS[at];
        let limit = if byte == b'0' { 9 } else { 0 };
        let shift = (at % WORD) * 8;
        check[at / WORD].0 |= (byte as u64) << shift;
        check[at / WORD].1 |= ((0x7F - limit) as u64) << shift;
        at += 1;
    }
    check
};

/// `raw` when it is exactly `YYYY-MM-DDTHH:MM:SS.sssZ` with a real date from 1970 on and a time
/// without a leap second; `None` for anything else.
fn platform_time(raw: &str) -> Option<SystemTime> {
    let b: &[u8; PLATFORM_TIME_LEN] = raw.as_bytes().try_into().ok()?;
    // A word at a time: this runs for every time in every delivery. XORed with the zeros, a digit
    // becomes its value and a right separator 0; each byte is then checked against its limit.
    let mut d = [0u8; PLATFORM_TIME_LEN];
    for (at, &(zeros, headroom)) in PLATFORM_TIME_CHECK.iter().enumerate() {
        let range = at * WORD..(at + 1) * WORD;
        let x = u64::from_le_bytes(b[range.clone()].try_into().ok()?) ^ zeros;
        // A byte below 0x80 plus its headroom sets its top bit (without carrying into the next
        // byte) exactly when it is over its limit.
        if (x | x.wrapping_add(headroom)) & 0x8080_8080_8080_8080 != 0 {
            return None;
        }
        d[range].copy_from_slice(&x.to_le_bytes());
    }
    let two = |at: usize| u64::from(d[at]) * 10 + u64::from(d[at + 1]);
    let year = two(0) * 100 + two(2);
    let (month, day) = (two(5), two(8));
    let (hour, minute, second) = (two(11), two(14), two(17));
    let millis = two(20) * 10 + u64::from(d[22]);
    if year < 1970 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_since_epoch(year, month, day)?;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    // Below 1e9 nanoseconds: three digits of milliseconds.
    let nanos = u32::try_from(millis * 1_000_000).ok()?;
    Some(UNIX_EPOCH + Duration::new(seconds, nanos))
}

/// Days from 1970-01-01 to `year`-`month`-`day` (a year from 1970 on); `None` for a date that
/// does not exist.
fn days_since_epoch(year: u64, month: u64, day: u64) -> Option<u64> {
    let index = usize::try_from(month.checked_sub(1)?).ok()?;
    let (&before, &length) = DAYS_BEFORE_MONTH.get(index).zip(DAYS_IN_MONTH.get(index))?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let leap_day = u64::from(leap && month > 2);
    let length = u64::from(length) + u64::from(leap && month == 2);
    if day == 0 || day > length {
        return None;
    }
    // Leap days of the years 1970 up to `year` (exclusive): every 4th year from 1972, less the
    // centuries from 2100, plus the 400th years from 2000.
    let prior = year - 1;
    let leap_days = (prior / 4 - 492) - (prior / 100 - 19) + (prior / 400 - 4);
    Some((year - 1970) * 365 + leap_days + u64::from(before) + leap_day + day - 1)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `ms` milliseconds after the epoch.
    pub(in crate::telemetry) fn at_ms(ms: u64) -> SystemTime {
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

    /// A platform time with any one byte replaced by any ASCII character: the direct reading
    /// answers only for digits in digit places, and then as `humantime` does.
    #[test]
    fn every_single_byte_change_is_judged_as_the_general_reading_judges_it() {
        let time = *b"2024-02-28T13:45:57.123Z";
        let mut direct = 0;
        for at in 0..PLATFORM_TIME_LEN {
            for byte in 0..0x80u8 {
                let mut changed = time;
                changed[at] = byte;
                let text = std::str::from_utf8(&changed).expect("ASCII");
                let general = general_time(text);
                if let Some(read) = platform_time(text) {
                    let digit_for_digit = time[at].is_ascii_digit() && byte.is_ascii_digit();
                    assert!(byte == time[at] || digit_for_digit, "{text}");
                    assert_eq!(Some(read), general, "{text}");
                    direct += 1;
                }
                assert_eq!(parse_time(text), general, "{text}");
            }
        }
        // The 7 separators unchanged, and every digit but those making the year before 1970
        // (thousands 0, 1), the month (tens 2-9, units 0), the day (tens 3-9), the hour (tens 3-9),
        // the minute or the second (tens 6-9) out of range.
        assert_eq!(direct, 7 + 17 * 10 - 2 - 8 - 1 - 7 - 7 - 4 - 4);
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
