//! The invocation's phases as child spans (`responseLatency`, `responseDuration`,
//! `runtimeOverhead`, named as the platform names them), timed by the proxy ([`Timeline`]), each
//! with the platform's own figure for it as an attribute when `runtimeDone` told it.

use std::borrow::Cow;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;

use super::names::lens;
use super::span::SpanSpec;
use super::timeline::Timeline;
use crate::telemetry::PlatformSpan;

/// The phases of `timeline` as children of the invocation span `parent`, one fresh id each;
/// `platform` holds the platform's phases, when `runtimeDone` arrived. Built as they are taken,
/// straight into the caller's list.
pub(super) fn phase_spans<'a>(
    trace_id: TraceId,
    parent: SpanId,
    timeline: &'a Timeline,
    platform: &'a [PlatformSpan],
    new_span_id: &'a mut dyn FnMut() -> SpanId,
) -> impl Iterator<Item = SpanData> + 'a {
    timeline.phases.iter().map(move |phase| {
        let attributes = platform
            .iter()
            .find(|p| p.name == phase.name)
            .map(|p| KeyValue::new(lens::PLATFORM_DURATION_MS, p.duration_ms))
            .into_iter()
            .collect();
        SpanSpec::child(
            parent,
            new_span_id(),
            Cow::Borrowed(phase.name),
            (phase.start, phase.end),
            attributes,
        )
        .build(trace_id)
    })
}
