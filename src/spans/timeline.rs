//! The invocation's timeline on one clock, the proxy's: the invocation span runs from the event's
//! hand-over to the runtime's next `/next` (when the platform counts the runtime as done), and its
//! phases split that time at the result's first and last byte. Every phase is kept inside the
//! invocation, so no child can start before or end after its parent, whatever the inputs.
//!
//! Where the proxy saw nothing (a runtime that bypasses it, a timeout or crash before any
//! result), the invocation's bounds come from the platform's events instead, and there are no
//! phases: the platform's figures stay attributes.

use std::time::SystemTime;

use smallvec::SmallVec;

use super::names::lens::{RESPONSE_DURATION_SPAN, RESPONSE_LATENCY_SPAN, RUNTIME_OVERHEAD_SPAN};
use super::platform_time::platform_duration;
use crate::correlate::InvocationSummary;

/// The most phases an invocation has: response latency, response duration, runtime overhead. They
/// are kept inline, so a timeline allocates nothing.
const MAX_PHASES: usize = 3;

/// One phase of the invocation, named as the platform names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Phase {
    /// The platform's name for it.
    pub(super) name: &'static str,
    /// When it began, within the invocation.
    pub(super) start: SystemTime,
    /// When it ended, within the invocation and not before `start`.
    pub(super) end: SystemTime,
}

/// The invocation's bounds and its phases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Timeline {
    /// When the runtime was handed the event.
    pub(super) start: SystemTime,
    /// When the runtime was done with it; never before `start`.
    pub(super) end: SystemTime,
    /// The phases the proxy saw, in order.
    pub(super) phases: SmallVec<[Phase; MAX_PHASES]>,
}

impl Timeline {
    /// The timeline of a closed invocation.
    pub(super) fn of(inv: &InvocationSummary) -> Self {
        let start = start(inv);
        let Some(result) = &inv.result else {
            let end = platform_end(inv).max(start);
            return Self {
                start,
                end,
                phases: SmallVec::new(),
            };
        };
        let (first_byte, last_byte) = (result.started_at, result.ended_at());
        let next = inv.runtime_next.filter(|next| *next >= last_byte);
        let end = next.unwrap_or(last_byte).max(start);
        let within = |t: SystemTime| t.clamp(start, end);
        let mut phases = SmallVec::new();
        let mut push = |name, from: SystemTime, to: SystemTime| {
            let from = within(from);
            phases.push(Phase {
                name,
                start: from,
                end: within(to).max(from),
            });
        };
        push(RESPONSE_LATENCY_SPAN, start, first_byte);
        push(RESPONSE_DURATION_SPAN, first_byte, last_byte);
        if let Some(next) = next {
            push(RUNTIME_OVERHEAD_SPAN, last_byte, next);
        }
        Self { start, end, phases }
    }
}

/// When the runtime was handed the event; else when the platform started the invocation; else its
/// `runtimeDone` less the platform's duration.
fn start(inv: &InvocationSummary) -> SystemTime {
    let done = inv.runtime_done.as_ref();
    inv.event
        .as_ref()
        .map(|e| e.received_at)
        .or_else(|| inv.platform_start.as_ref().map(|s| s.time))
        .or_else(|| {
            done.and_then(|d| {
                d.body
                    .duration_ms
                    .and_then(platform_duration)
                    .and_then(|dur| d.time.checked_sub(dur))
            })
        })
        .unwrap_or_else(SystemTime::now)
}

/// Without a result: the platform's `runtimeDone` (a timeout, a crash), else the close.
fn platform_end(inv: &InvocationSummary) -> SystemTime {
    inv.runtime_done
        .as_ref()
        .map_or_else(SystemTime::now, |d| d.time)
}
