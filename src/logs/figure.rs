//! The report's figures as text without `core::fmt`, which costs more than the rest of the line:
//! whole numbers as their decimal digits (`itoa`), durations with two decimals exactly as `{:.2}`
//! writes them.

use std::fmt::Write as _;

/// Largest value, times 100, written without `core::fmt`: below it the product's rounding error
/// (at most 2^-53 of it) stays under [`TIE_MARGIN`], so rounding it gives `{:.2}`'s digits.
const FAST_SCALED_LIMIT: f64 = 1e9;

/// How far from a tie (`…5` in the third decimal) the scaled value must be for its rounding to be
/// certain; nearer ones are written by `core::fmt`, which rounds the exact binary value.
const TIE_MARGIN: f64 = 1e-6;

/// Appends `value`'s decimal digits.
pub(super) fn push_whole(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// Appends `value` as `{:.2}` writes it.
pub(super) fn push_hundredths(out: &mut String, value: f64) {
    let scaled = value * 100.0;
    let rounded = scaled.round();
    let certain = value.is_sign_positive()
        && scaled < FAST_SCALED_LIMIT
        && (scaled - rounded).abs() < 0.5 - TIE_MARGIN;
    if !certain {
        let _ = write!(out, "{value:.2}");
        return;
    }
    // Below the limit, so exact as an integer.
    let hundredths = rounded as u64;
    push_whole(out, hundredths / 100);
    out.push('.');
    let fraction = hundredths % 100;
    out.push(char::from(b'0' + (fraction / 10) as u8));
    out.push(char::from(b'0' + (fraction % 10) as u8));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(value: u64) -> String {
        let mut out = String::new();
        push_whole(&mut out, value);
        out
    }

    fn hundredths(value: f64) -> String {
        let mut out = String::new();
        push_hundredths(&mut out, value);
        out
    }

    #[test]
    fn whole_numbers() {
        for value in [0, 7, 10, 128, 10_240, u64::MAX] {
            assert_eq!(whole(value), value.to_string());
        }
    }

    #[test]
    fn hundredths_agree_with_fmt() {
        for value in [
            0.0,
            -0.0,
            0.004,
            0.005,
            0.015,
            1.005,
            2.675,
            12.345,
            97.0,
            1.5,
            0.125,
            0.375,
            145.678,
            1e7 - 0.005,
            9_999_999.995,
            1e7,
            1e12,
            -3.25,
            f64::NAN,
            f64::INFINITY,
        ] {
            assert_eq!(hundredths(value), format!("{value:.2}"), "{value}");
        }
        // Every duration the platform writes (three decimals) up to 100 s, and a spread beyond.
        for thousandths in (0..100_000_000u64).step_by(997).chain(0..20_000) {
            let value = thousandths as f64 / 1000.0;
            assert_eq!(hundredths(value), format!("{value:.2}"), "{value}");
        }
    }
}
