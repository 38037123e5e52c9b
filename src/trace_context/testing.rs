//! Fixed ids and times the trace-context tests share: the X-Ray documentation's example trace.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, TraceId};

/// The X-Ray documentation's example `Root`.
pub(super) const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
/// [`ROOT`] as a W3C trace id.
pub(super) const TRACE_HEX: &str = "5759e988bd862e3fe1be46a994272793";
/// The X-Ray documentation's example `Parent`.
pub(super) const PARENT_HEX: &str = "53995c3f42cd8ad8";

/// 2016-06-09T18:01:12Z, the epoch part of the X-Ray documentation's example id.
pub(super) fn doc_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(0x5759_e988)
}

/// The trace id written as 32 hex digits.
pub(super) fn trace_id(hex: &str) -> TraceId {
    TraceId::from_hex(hex).expect("a test trace id")
}

/// The span id written as 16 hex digits.
pub(super) fn span_id(hex: &str) -> SpanId {
    SpanId::from_hex(hex).expect("a test span id")
}
