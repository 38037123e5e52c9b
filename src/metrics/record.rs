//! What each closed invocation and each report record, and when: the counts and the proxy's and
//! `runtimeDone`'s figures when the invocation closes; the report's figures (memory, billed
//! duration, init duration, extension overhead) when the report arrives, usually after the close,
//! with the trigger remembered from the close.

use super::aggregate::{Aggregates, Attribute};
use super::names::{self, Instrument};
use crate::correlate::{InvocationSummary, JoinedReport};
use crate::event::Trigger;
use crate::logs::names as log_names;
use crate::spans::{invocation_status, InvocationStatus};

/// Bytes in the report's MB (Lambda's memory sizes are binary megabytes).
const BYTES_PER_MB: f64 = 1_048_576.0;
/// Milliseconds per second.
const MS_PER_S: f64 = 1000.0;

/// What started the invocation, from its event (`other` without one).
pub fn trigger(inv: &InvocationSummary) -> Trigger {
    inv.event
        .as_ref()
        .map_or(Trigger::Other, |record| match &record.event_parse {
            Some(parse) => record.event.resumed(parse).trigger(),
            None => record.event.parsed().trigger(),
        })
}

fn by_trigger(trigger: Trigger) -> [Attribute; 1] {
    [(names::FAAS_TRIGGER, trigger.as_str())]
}

/// Records the closed invocation `inv`, started by `trigger`.
pub fn invocation(aggregates: &mut Aggregates, inv: &InvocationSummary, trigger: Trigger) {
    let attributes = by_trigger(trigger);
    let counter: Option<Instrument> = match invocation_status(inv) {
        InvocationStatus::Success => Some(names::FAAS_INVOCATIONS),
        InvocationStatus::Error | InvocationStatus::Failure => Some(names::FAAS_ERRORS),
        InvocationStatus::Timeout => Some(names::FAAS_TIMEOUTS),
        // Cut short by the shutdown: its outcome is unknown.
        InvocationStatus::Incomplete => None,
    };
    if let Some(counter) = counter {
        aggregates.add(counter, &attributes, 1);
    }
    if inv.coldstart {
        aggregates.add(names::FAAS_COLDSTARTS, &attributes, 1);
    }
    if let Some(seconds) = invoke_seconds(inv) {
        aggregates.record(names::FAAS_INVOKE_DURATION, &attributes, seconds);
    }
    if let Some(event) = &inv.event {
        aggregates.record(names::EVENT_SIZE, &attributes, event.event.size as f64);
    }
    if let Some(result) = &inv.result {
        aggregates.record(names::RESPONSE_SIZE, &attributes, result.body.size as f64);
    }
    let produced = inv
        .runtime_done
        .as_ref()
        .and_then(|done| done.body.produced_bytes);
    if let Some(bytes) = produced {
        aggregates.record(names::PRODUCED_BYTES, &attributes, bytes as f64);
    }
}

/// The function's logic: from the event handed to the runtime to the end of its result, as the
/// proxy saw them; else (a runtime the proxy did not see finish) the platform's `runtimeDone`
/// duration.
fn invoke_seconds(inv: &InvocationSummary) -> Option<f64> {
    // The proxy's view first, so that every invocation it saw is measured alike (warm successes
    // close before `runtimeDone` arrives): from the event's hand-over to the result's last byte.
    let proxied = inv
        .event
        .as_ref()
        .zip(inv.result.as_ref())
        .and_then(|(event, result)| {
            result
                .ended_at()
                .duration_since(event.received_at)
                .ok()
                .map(|d| d.as_secs_f64())
        });
    proxied.or_else(|| {
        inv.runtime_done
            .as_ref()
            .and_then(|d| d.body.duration_ms)
            .map(|ms| ms / MS_PER_S)
    })
}

/// Records `joined`'s figures, for an invocation started by `trigger`.
pub fn report(aggregates: &mut Aggregates, joined: &JoinedReport, trigger: Trigger) {
    let attributes = by_trigger(trigger);
    let report = &joined.report.body;
    let metrics = &report.metrics;
    if let Some(mb) = metrics.max_memory_used_mb {
        aggregates.record(names::FAAS_MEM_USAGE, &attributes, mb as f64 * BYTES_PER_MB);
    }
    if let Some(ms) = metrics.billed_duration_ms {
        aggregates.record(names::BILLED_DURATION, &attributes, ms as f64 / MS_PER_S);
    }
    if let Some(ms) = metrics.init_duration_ms {
        aggregates.record(names::FAAS_INIT_DURATION, &attributes, ms / MS_PER_S);
    }
    let overhead = report
        .spans
        .iter()
        .find(|span| span.name == log_names::EXTENSION_OVERHEAD_SPAN)
        .map(|span| span.duration_ms);
    if let Some(ms) = overhead {
        aggregates.record(names::EXTENSION_OVERHEAD, &attributes, ms / MS_PER_S);
    }
}
