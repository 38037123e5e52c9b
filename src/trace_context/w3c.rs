//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the `traceparent` an event carries
//! or the function is handed ([`Traceparent`]), and the `tracestate` kept with it.
//!
//! Parsing follows the recommendation's rules for a receiver: ids and flags are lowercase hex of
//! their exact widths, all-zero ids are invalid, version `ff` is invalid, version `00` has exactly
//! four fields, and a later version is read by its first four fields (it may append more).
//! Anything else is no context at all: the trace then starts here, never half-continued.

use std::fmt;
use std::str::FromStr;

use opentelemetry::trace::{SpanId, TraceId, TraceState};

use super::ids::{parse_hex, parse_span_id};
use super::RemoteContext;

/// A `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traceparent {
    /// The trace id (never invalid).
    pub trace_id: TraceId,
    /// The parent span id (never invalid).
    pub span_id: SpanId,
    /// The `sampled` flag (bit 0 of the flags).
    pub sampled: bool,
}

impl Traceparent {
    /// Parses a `traceparent` header value (surrounding blanks ignored); `None` when it is not a
    /// valid one.
    pub fn parse(header: &str) -> Option<Self> {
        let mut fields = header.trim().split('-');
        let (version, trace, span, flags) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        if !is_lower_hex(version, 2) || version == "ff" {
            return None;
        }
        if version == "00" && fields.next().is_some() {
            return None;
        }
        if !is_lower_hex(trace, 32) || !is_lower_hex(span, 16) || !is_lower_hex(flags, 2) {
            return None;
        }
        let trace_id = parse_hex(trace).filter(|id| *id != 0).map(TraceId::from)?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self {
            trace_id,
            span_id: parse_span_id(span)?,
            sampled: flags & 1 == 1,
        })
    }
}

/// Writes version `00`, the only version lambda-lens speaks.
impl fmt::Display for Traceparent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = if self.sampled { "01" } else { "00" };
        write!(f, "00-{}-{}-{flags}", self.trace_id, self.span_id)
    }
}

/// The context a `traceparent` and its `tracestate` name. A `tracestate` that is not valid is
/// dropped (the recommendation lets a receiver discard it); the `traceparent` still counts.
pub fn remote_context(traceparent: &str, tracestate: Option<&str>) -> Option<RemoteContext> {
    let parsed = Traceparent::parse(traceparent)?;
    Some(RemoteContext {
        trace_id: parsed.trace_id,
        span_id: parsed.span_id,
        sampled: Some(parsed.sampled),
        trace_state: tracestate
            .and_then(|state| TraceState::from_str(state).ok())
            .unwrap_or_default(),
    })
}

/// Whether `field` is exactly `len` lowercase hex digits.
fn is_lower_hex(field: &str, len: usize) -> bool {
    field.len() == len
        && field
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{span_id, trace_id, PARENT_HEX, TRACE_HEX};
    use super::*;

    fn header(version: &str, flags: &str) -> String {
        format!("{version}-{TRACE_HEX}-{PARENT_HEX}-{flags}")
    }

    #[test]
    fn parses_version_00_and_its_sampled_flag() {
        assert_eq!(
            Traceparent::parse(&header("00", "01")),
            Some(Traceparent {
                trace_id: trace_id(TRACE_HEX),
                span_id: span_id(PARENT_HEX),
                sampled: true,
            })
        );
        for (flags, sampled) in [("00", false), ("01", true), ("02", false), ("03", true)] {
            let parsed = Traceparent::parse(&header("00", flags)).expect(flags);
            assert_eq!(parsed.sampled, sampled, "{flags}");
        }
        let padded = format!(" {} ", header("00", "01"));
        assert!(Traceparent::parse(&padded).is_some(), "blanks around it");
    }

    #[test]
    fn later_versions_are_read_by_their_first_four_fields() {
        assert!(Traceparent::parse(&header("01", "01")).is_some());
        assert!(Traceparent::parse(&format!("{}-what-comes-next", header("cc", "01"))).is_some());
        assert!(
            Traceparent::parse(&format!("{}-extra", header("00", "01"))).is_none(),
            "version 00 has exactly four fields"
        );
        assert!(Traceparent::parse(&format!("{}x", header("01", "01"))).is_none());
    }

    #[test]
    fn invalid_traceparents_are_no_context() {
        let zero_trace = format!("00-{}-{PARENT_HEX}-01", "0".repeat(32));
        let zero_span = format!("00-{TRACE_HEX}-{}-01", "0".repeat(16));
        let upper = header("00", "01").to_uppercase();
        let short_trace = format!("00-{}-{PARENT_HEX}-01", &TRACE_HEX[1..]);
        let long_span = format!("00-{TRACE_HEX}-{PARENT_HEX}0-01");
        for bad in [
            header("ff", "01").as_str(),
            header("0", "01").as_str(),
            header("0g", "01").as_str(),
            header("00", "1").as_str(),
            header("00", "0x").as_str(),
            zero_trace.as_str(),
            zero_span.as_str(),
            upper.as_str(),
            short_trace.as_str(),
            long_span.as_str(),
            "",
            "00",
            "garbage",
            "00-+759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
        ] {
            assert_eq!(Traceparent::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_version_00_and_round_trips() {
        let sampled = Traceparent {
            trace_id: trace_id(TRACE_HEX),
            span_id: span_id(PARENT_HEX),
            sampled: true,
        };
        assert_eq!(sampled.to_string(), header("00", "01"));
        let unsampled = Traceparent {
            sampled: false,
            ..sampled
        };
        assert_eq!(unsampled.to_string(), header("00", "00"));
        for traceparent in [sampled, unsampled] {
            assert_eq!(
                Traceparent::parse(&traceparent.to_string()),
                Some(traceparent)
            );
        }
        let leading_zeros = Traceparent {
            trace_id: TraceId::from(1),
            span_id: SpanId::from(2),
            sampled: true,
        };
        assert_eq!(
            leading_zeros.to_string(),
            "00-00000000000000000000000000000001-0000000000000002-01"
        );
    }

    #[test]
    fn tracestate_is_kept_when_valid_and_dropped_when_not() {
        let kept = remote_context(
            &header("00", "01"),
            Some("congo=t61rcWkgMzE, rojo=00f067aa"),
        )
        .expect("a valid traceparent");
        assert_eq!(kept.trace_state.header(), "congo=t61rcWkgMzE,rojo=00f067aa");
        assert_eq!(kept.sampled, Some(true));
        let dropped = remote_context(&header("00", "00"), Some("no equals sign"))
            .expect("a bad tracestate does not spoil the traceparent");
        assert_eq!(dropped.trace_state, TraceState::NONE);
        assert_eq!(dropped.sampled, Some(false));
        assert_eq!(remote_context("00-bad", Some("k=v")), None);
    }
}
