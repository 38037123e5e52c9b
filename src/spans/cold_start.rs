//! The cold start's span: the environment's init (`platform.initStart` to `initRuntimeDone`) or
//! SnapStart restore (`restoreStart` to `restoreRuntimeDone`) that preceded the first invocation.
//!
//! It is the invocation span's sibling, under the same parent (the caller's span, or none): the
//! start happened before the event reached the runtime, so as a child it would begin before its
//! parent. The invocation span keeps the same place and id on cold and warm invocations alike.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, Status};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;

use super::names::{lens, semconv};
use super::platform_time::after;
use super::span::SpanSpec;
use crate::correlate::{InitSummary, InvocationSummary, RestoreSummary};
use crate::telemetry::PlatformStatus;

/// What a cold start's span is made of, for an init and a restore alike.
struct Phase<'a> {
    name: &'static str,
    start: Option<SystemTime>,
    runtime_done: Option<SystemTime>,
    duration_ms: Option<f64>,
    status: Option<&'a PlatformStatus>,
    error_type: Option<&'a str>,
    attributes: Vec<KeyValue>,
}

/// The cold start of `inv`, if one is to be drawn, with id `span_id`.
pub(super) fn cold_start_span(inv: &InvocationSummary, span_id: SpanId) -> Option<SpanData> {
    let phase = match (&inv.init, &inv.restore) {
        (_, Some(restore)) => restore_phase(restore),
        (Some(init), None) => init_phase(init),
        (None, None) => return None,
    };
    let start = phase.start?;
    let end = phase
        .runtime_done
        .or_else(|| phase.duration_ms.map(|ms| after(start, ms)))
        .unwrap_or(start);
    let mut attributes = phase.attributes;
    let status = match phase.status {
        Some(PlatformStatus::Success) | None => Status::Unset,
        Some(s) => {
            let error_type = phase.error_type.unwrap_or(s.as_str()).to_owned();
            attributes.push(KeyValue::new(semconv::ERROR_TYPE, error_type.clone()));
            Status::error(format!("{} {}: {error_type}", phase.name, s.as_str()))
        }
    };
    let trace = &inv.parent.trace;
    let spec = SpanSpec::child(
        trace.parent_span_id.unwrap_or(SpanId::INVALID),
        span_id,
        Cow::Borrowed(phase.name),
        (start, end),
        attributes,
    );
    Some(
        SpanSpec {
            parent_is_remote: trace.parent_span_id.is_some(),
            status,
            ..spec
        }
        .build(trace.trace_id),
    )
}

fn init_phase(init: &InitSummary) -> Phase<'_> {
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
    Phase {
        name: lens::INIT_SPAN,
        start: init.start,
        runtime_done: init.runtime_done,
        duration_ms: init.duration_ms,
        status: init.status.as_ref(),
        error_type: init.error_type.as_deref(),
        attributes,
    }
}

fn restore_phase(restore: &RestoreSummary) -> Phase<'_> {
    let attributes = restore
        .duration_ms
        .map(|ms| KeyValue::new(lens::RESTORE_DURATION_MS, ms))
        .into_iter()
        .collect();
    Phase {
        name: lens::RESTORE_SPAN,
        start: restore.start,
        runtime_done: restore.runtime_done,
        duration_ms: restore.duration_ms,
        status: restore.status.as_ref(),
        error_type: restore.error_type.as_deref(),
        attributes,
    }
}
