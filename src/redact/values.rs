//! The value detectors: secret-looking substrings found wherever they appear, whatever their key —
//! AWS access key ids, JWTs, `Bearer` tokens and card numbers that pass the Luhn check.

use std::ops::Range;

/// Fewest digits of a card number (ISO/IEC 7812).
const MIN_CARD_DIGITS: usize = 13;
/// Most digits of a card number (ISO/IEC 7812).
const MAX_CARD_DIGITS: usize = 19;

/// Which bytes are ASCII letters and digits, the bytes of a word: a table look-up per byte, where
/// `u8::is_ascii_alphanumeric` compares three ranges (every byte of every scanned string passes
/// through here).
const WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    table
};

fn is_word_byte(b: u8) -> bool {
    WORD_BYTES[usize::from(b)]
}

/// Shortest substring any detector matches: an unsecured JWT (`eyJ.x.`); a bearer token, an
/// access key id and a card number are longer. Shorter text (most ids, numbers and words of an
/// event) is passed over without looking at its bytes.
const MIN_SECRET_BYTES: usize = 6;

/// Byte ranges of secret-looking substrings, in order: AWS access key ids, JWTs, bearer tokens,
/// card numbers. Lazy, so a caller asking whether there is one stops at the first.
pub(super) fn value_matches(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let bytes = text.as_bytes();
    let mut i = if bytes.len() < MIN_SECRET_BYTES {
        bytes.len()
    } else {
        0
    };
    std::iter::from_fn(move || {
        while let Some(&b) = bytes.get(i) {
            if !is_word_byte(b) {
                i += 1;
                continue;
            }
            // A word (a run of ASCII letters and digits) starts here: words are passed over whole,
            // and every match ends before a byte that is neither.
            let word_end = bytes[i..]
                .iter()
                .position(|&b| !is_word_byte(b))
                .map_or(bytes.len(), |p| i + p);
            match secret_at(bytes, i, word_end) {
                Some(range) => {
                    i = range.end;
                    return Some(range);
                }
                None => i = word_end,
            }
        }
        None
    })
}

/// The secret starting with the word `bytes[at..word_end]`, if any. Every detector starts a word
/// with its own first byte, and the word's length or content rules most words out before a
/// detector runs: an access key id is one word of 20, `Bearer` one of 6, a card's first group is
/// all digits.
fn secret_at(bytes: &[u8], at: usize, word_end: usize) -> Option<Range<usize>> {
    let word = &bytes[at..word_end];
    let len = match word[0] {
        b'A' if word.len() == 20 => aws_access_key_len(&bytes[at..])?,
        b'e' => jwt_len(&bytes[at..])?,
        b'b' | b'B' if word.len() == 6 => return bearer_token(bytes, at),
        b'2'..=b'6' => {
            // Digits right after `1 ` or `1-` continue a longer number (an id): not a card on
            // their own.
            let continues_number =
                at >= 2 && matches!(bytes[at - 1], b' ' | b'-') && bytes[at - 2].is_ascii_digit();
            if continues_number || !word.iter().all(u8::is_ascii_digit) {
                return None;
            }
            card_number_len(&bytes[at..])?
        }
        _ => return None,
    };
    Some(at..at + len)
}

/// `AKIA`/`ASIA` + 16 upper-case alphanumerics, not followed by another alphanumeric.
fn aws_access_key_len(s: &[u8]) -> Option<usize> {
    let rest = s
        .strip_prefix(b"AKIA")
        .or_else(|| s.strip_prefix(b"ASIA"))?;
    let body = rest.get(..16)?;
    let ok = body
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && !rest.get(16).is_some_and(u8::is_ascii_alphanumeric);
    ok.then_some(20)
}

/// `eyJ…` `.` `…` `.` `…` in base64url; the signature may be empty (unsecured JWTs).
fn jwt_len(s: &[u8]) -> Option<usize> {
    if !s.starts_with(b"eyJ") {
        return None;
    }
    let segment = |from: usize| {
        s[from..]
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            .map_or(s.len(), |p| from + p)
    };
    let header_end = segment(0);
    if s.get(header_end) != Some(&b'.') {
        return None;
    }
    let payload_end = segment(header_end + 1);
    if payload_end == header_end + 1 || s.get(payload_end) != Some(&b'.') {
        return None;
    }
    Some(segment(payload_end + 1))
}

/// The token range of `Bearer <token>` starting at `at` (case-insensitive scheme).
fn bearer_token(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    let scheme = bytes.get(at..at + 7)?;
    if !scheme[..6].eq_ignore_ascii_case(b"bearer") || scheme[6] != b' ' {
        return None;
    }
    let start = at + 7 + bytes[at + 7..].iter().take_while(|&&b| b == b' ').count();
    let len = bytes[start..]
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
        .count();
    (len > 0).then_some(start..start + len)
}

/// 13–19 digits, single spaces or dashes between them, first digit 2–6, passing Luhn, not part
/// of a longer run of digits or letters.
fn card_number_len(s: &[u8]) -> Option<usize> {
    if !matches!(s.first(), Some(b'2'..=b'6')) {
        return None;
    }
    // The digits of a card, on the stack; a longer run is counted but never a card.
    let mut digits = [0u8; MAX_CARD_DIGITS];
    let mut count = 0;
    let mut end = 0;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            d @ b'0'..=b'9' => {
                if let Some(slot) = digits.get_mut(count) {
                    *slot = d - b'0';
                }
                count += 1;
                end = i + 1;
                i += 1;
            }
            b' ' | b'-' if s.get(i + 1).is_some_and(u8::is_ascii_digit) && end == i => i += 1,
            _ => break,
        }
    }
    let bounded = !s.get(end).is_some_and(u8::is_ascii_alphanumeric);
    (bounded && (MIN_CARD_DIGITS..=MAX_CARD_DIGITS).contains(&count) && luhn(&digits[..count]))
        .then_some(end)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            match i % 2 {
                0 => d,
                _ if d * 2 > 9 => d * 2 - 9,
                _ => d * 2,
            }
        })
        .sum();
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::testing::text;

    #[test]
    fn aws_access_keys() {
        assert_eq!(text("id AKIAIOSFODNN7EXAMPLE here"), "id [REDACTED] here");
        assert_eq!(text("ASIAY34FZKBOKMUTVV7A"), "[REDACTED]");
        // Too short, too long, lower case, or another prefix: kept.
        for kept in [
            "AKIAIOSFODNN7EXAMPL",
            "AKIAIOSFODNN7EXAMPLEX",
            "AKIAiosfodnn7example",
            "AIDAIENQZJOLO23YVJ4VO",
            "XAKIAIOSFODNN7EXAMPLE",
        ] {
            assert_eq!(text(kept), kept);
        }
    }

    #[test]
    fn jwts() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(text(&format!("t={jwt};")), "t=[REDACTED];");
        assert_eq!(text(&format!("[{jwt}]")), "[[REDACTED]]");
        // Unsecured JWT (empty signature).
        assert_eq!(text("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."), "[REDACTED]");
        for kept in ["eyJhbGciOiJIUzI1NiJ9", "eyJ.", "eyJabc..x", "abc.def.ghi"] {
            assert_eq!(text(kept), kept);
        }
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(text("Bearer abc.def-123"), "Bearer [REDACTED]");
        assert_eq!(text("sent bearer  xyz= ok"), "sent bearer  [REDACTED] ok");
        assert_eq!(text("Bearer"), "Bearer");
        assert_eq!(text("Bearers only"), "Bearers only");
    }

    #[test]
    fn card_numbers() {
        assert_eq!(text("card 4111 1111 1111 1111 exp"), "card [REDACTED] exp");
        assert_eq!(text("4111-1111-1111-1111"), "[REDACTED]");
        assert_eq!(text("5500005555555559"), "[REDACTED]");
        assert_eq!(text("amex 378282246310005."), "amex [REDACTED].");
        for kept in [
            // Fails Luhn.
            "4111111111111112",
            "4111 1111 1111 1112",
            // Phone numbers, UUIDs, timestamps, long ids.
            "+1 555-123-4567",
            "+44 20 7946 0958",
            "059f36b4-87a3-44ab-83d2-661975830a7d",
            "12345678-1234-1234-1234-123456789012",
            "1583348638390",
            "49590338271490256608559692538361571095921575989136588898",
            // Double separators, letters around.
            "4111  1111 1111 1111",
            "x4111111111111111",
            "4111111111111111x",
            "12-4111-1111-1111-1111",
        ] {
            assert_eq!(text(kept), kept, "{kept}");
        }
    }

    #[test]
    fn detectors_start_words_only() {
        // Back to back, after punctuation, and inside words (kept).
        assert_eq!(
            text("AKIAIOSFODNN7EXAMPLE,4111111111111111;Bearer t1 idAKIAIOSFODNN7EXAMPLE"),
            "[REDACTED],[REDACTED];Bearer [REDACTED] idAKIAIOSFODNN7EXAMPLE"
        );
        assert_eq!(
            text("é4111111111111111 _4111111111111111"),
            "é[REDACTED] _[REDACTED]"
        );
    }

    #[test]
    fn luhn_check() {
        assert!(luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
        assert!(!luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
    }
}
