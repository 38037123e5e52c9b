//! The invocation's platform phases as child spans: the cold start (`init`, from `initStart` to
//! `initRuntimeDone`, in the first invocation's trace) and the `runtimeDone` phases
//! (`responseLatency`, `responseDuration`, `runtimeOverhead`, named as the platform names them).

use std::borrow::Cow;

use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;

use super::names::{lens, semconv};
use super::platform_time::after;
use super::span::SpanSpec;
use crate::correlate::InitSummary;
use crate::telemetry::{PlatformSpan, PlatformStatus};

/// The `runtimeDone` phases of the invocation span `parent`, one fresh id each.
pub(super) fn runtime_done_spans(
    trace_id: TraceId,
    parent: SpanId,
    phases: &[PlatformSpan],
    new_span_id: &mut dyn FnMut() -> SpanId,
) -> Vec<SpanData> {
    phases
        .iter()
        .map(|phase| {
            SpanSpec::child(
                parent,
                new_span_id(),
                Cow::Owned(phase.name.clone()),
                (phase.start, after(phase.start, phase.duration_ms)),
                vec![KeyValue::new(lens::PLATFORM_DURATION_MS, phase.duration_ms)],
            )
            .build(trace_id)
        })
        .collect()
}

/// The cold start as a child of the invocation span `parent`; `None` when its start is unknown.
pub(super) fn init_span(
    trace_id: TraceId,
    parent: SpanId,
    init: &InitSummary,
    span_id: SpanId,
) -> Option<SpanData> {
    let start = init.start?;
    let end = init
        .runtime_done
        .or_else(|| init.duration_ms.map(|ms| after(start, ms)))
        .unwrap_or(start);
    let mut attributes = Vec::new();
    if let Some(t) = &init.initialization_type {
        attributes.push(KeyValue::new(lens::INIT_TYPE, t.clone()));
    }
    if let Some(p) = &init.phase {
        attributes.push(KeyValue::new(lens::INIT_PHASE, p.clone()));
    }
    if let Some(ms) = init.duration_ms {
        attributes.push(KeyValue::new(lens::INIT_DURATION_MS, ms));
    }
    let status = match &init.status {
        Some(PlatformStatus::Success) | None => Status::Unset,
        Some(s) => {
            let error_type = init
                .error_type
                .clone()
                .unwrap_or_else(|| s.as_str().to_owned());
            attributes.push(KeyValue::new(semconv::ERROR_TYPE, error_type.clone()));
            Status::error(format!("init {}: {error_type}", s.as_str()))
        }
    };
    let spec = SpanSpec::child(
        parent,
        span_id,
        Cow::Borrowed(lens::INIT_SPAN),
        (start, end),
        attributes,
    );
    Some(SpanSpec { status, ..spec }.build(trace_id))
}
