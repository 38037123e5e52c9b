//! The `platform.report` follow-up span: billed duration, memory, init and extension overhead of
//! an invocation. The report arrives after the freeze, so this span is usually exported at the next
//! thaw, after its parent ([`late_report_span`]).

use std::borrow::Cow;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;

use super::names::{lens, semconv};
use super::platform_time::after;
use super::span::SpanSpec;
use crate::correlate::LateReport;
use crate::telemetry::{Report, TelemetryEvent};

/// The report's phase that the span covers.
const EXTENSION_OVERHEAD: &str = "extensionOverhead";

/// The report of invocation `request_id` as a child of its invocation span `parent`.
pub(super) fn report_span(
    trace_id: TraceId,
    parent: SpanId,
    request_id: &str,
    report: &TelemetryEvent<Report>,
    span_id: SpanId,
) -> SpanData {
    let (time, report) = (report.time, &report.body);
    let overhead = report.spans.iter().find(|s| s.name == EXTENSION_OVERHEAD);
    let bounds = match overhead {
        Some(o) => (o.start, after(o.start, o.duration_ms)),
        None => (time, time),
    };
    let m = &report.metrics;
    let mut attributes = vec![KeyValue::new(
        semconv::FAAS_INVOCATION_ID,
        request_id.to_owned(),
    )];
    for (key, v) in [
        (lens::REPORT_DURATION_MS, m.duration_ms),
        (lens::REPORT_INIT_DURATION_MS, m.init_duration_ms),
        (lens::REPORT_RESTORE_DURATION_MS, m.restore_duration_ms),
    ] {
        if let Some(v) = v {
            attributes.push(KeyValue::new(key, v));
        }
    }
    for (key, v) in [
        (lens::REPORT_BILLED_DURATION_MS, m.billed_duration_ms),
        (lens::REPORT_MEMORY_SIZE_MB, m.memory_size_mb),
        (lens::REPORT_MAX_MEMORY_USED_MB, m.max_memory_used_mb),
    ] {
        if let Some(v) = v {
            attributes.push(KeyValue::new(key, v as i64));
        }
    }
    if let Some(o) = overhead {
        attributes.push(KeyValue::new(
            lens::REPORT_EXTENSION_OVERHEAD_MS,
            o.duration_ms,
        ));
    }
    if let Some(status) = &report.status {
        attributes.push(KeyValue::new(lens::STATUS, status.as_str().to_owned()));
    }
    SpanSpec::child(
        parent,
        span_id,
        Cow::Borrowed(lens::REPORT_SPAN),
        bounds,
        attributes,
    )
    .build(trace_id)
}

/// The follow-up span of a report that arrived after its invocation was exported.
pub fn late_report_span(late: &LateReport, span_id: SpanId) -> SpanData {
    report_span(
        late.trace_id,
        late.invocation_span_id,
        late.report.body.request_id.as_str(),
        &late.report,
        span_id,
    )
}
