//! Trace and span ids: originating them (X-Ray-compatible trace ids, random span ids) and reading
//! the hex forms both header formats write them in.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, TraceId};

/// An X-Ray-compatible trace id: the first 32 bits are `now` in epoch seconds (X-Ray rejects ids
/// whose timestamp is too old), followed by 96 random bits that are never all zero.
pub fn new_xray_trace_id(now: SystemTime) -> TraceId {
    let epoch = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    // X-Ray's field is 32 bits wide; truncating matches what its SDKs do after 2106.
    let epoch = u128::from(epoch as u32);
    const RANDOM_MASK: u128 = (1 << 96) - 1;
    loop {
        let random = rand::random::<u128>() & RANDOM_MASK;
        if random != 0 {
            return TraceId::from((epoch << 96) | random);
        }
    }
}

/// A random non-zero span id.
pub fn new_span_id() -> SpanId {
    loop {
        let id = rand::random::<u64>();
        if id != 0 {
            return SpanId::from(id);
        }
    }
}

/// Parses exactly 16 hex characters into a valid (non-zero) span id.
pub(super) fn parse_span_id(digits: &str) -> Option<SpanId> {
    if digits.len() != 16 {
        return None;
    }
    let id = u64::try_from(parse_hex(digits)?).ok()?;
    (id != 0).then(|| SpanId::from(id))
}

/// Parses up to 32 hex digits. `from_str_radix` alone would also accept a leading `+`.
pub(super) fn parse_hex(digits: &str) -> Option<u128> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::super::testing::doc_time;
    use super::super::xray_root;
    use super::*;

    #[test]
    fn generated_ids_start_with_epoch_seconds() {
        let id = new_xray_trace_id(doc_time());
        let hex = format!("{id:032x}");
        assert_eq!(&hex[..8], "5759e988");
        assert_ne!(&hex[8..], "000000000000000000000000");
        assert_ne!(new_xray_trace_id(doc_time()), id);
        let ctx = crate::trace_context::TraceContext::from_xray_header(None, doc_time());
        assert!(xray_root(ctx.trace_id).starts_with("1-5759e988-"));
    }

    #[test]
    fn span_ids_are_valid_and_distinct() {
        let a = new_span_id();
        assert_ne!(a, SpanId::INVALID);
        assert_ne!(new_span_id(), a);
    }

    #[test]
    fn span_ids_are_sixteen_non_zero_hex_digits() {
        assert_eq!(
            parse_span_id("53995C3F42cd8ad8"),
            Some(SpanId::from(0x5399_5c3f_42cd_8ad8))
        );
        for bad in [
            "",
            "53995c3f42cd8ad",
            "53995c3f42cd8ad8a",
            "0000000000000000",
            "+3995c3f42cd8ad8",
        ] {
            assert_eq!(parse_span_id(bad), None, "{bad}");
        }
    }
}
