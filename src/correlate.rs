//! Correlation: joins the three views of an invocation, keyed by request id — the proxy's records, the
//! Telemetry API's platform events and the Extensions API's INVOKE event — and decides when an
//! invocation is complete.
//!
//! The logic is pure: time is passed in, span ids come from an injected source, nothing here does I/O.
//! Events may arrive in any order, twice, or never:
//! - an invocation is *done* when the proxy saw its result accepted and its runtime ask for the next
//!   event (the outcome is known; nothing is waited for from the platform), except that the first
//!   invocation also waits for the events that end the environment's start (`startup`), so that
//!   its trace shows its cold start; or when `platform.runtimeDone` arrived; or the runtime's result
//!   passed through the proxy and neither followed within the configured wait (or no telemetry is
//!   coming at all); or its deadline passed by [`DEADLINE_GRACE`] (a timeout the platform did not
//!   report);
//! - a closed invocation is never closed again; its ids are kept (bounded) so that its log lines
//!   and its `platform.report`, which the Telemetry API delivers after the close, still join its
//!   trace, and duplicates are ignored;
//! - every function log line is handed on once, as [`Output::Log`], with its invocation's ids when
//!   it has one (a JSON line names it; a text line belongs to the invocation the telemetry stream
//!   is in, see [`StreamPosition`]); lines of an open invocation wait for its close (its ids may be
//!   chosen then), at most [`LogBounds::records_per_invocation`] each, the rest counted;
//! - every `platform.report` is handed on once, as [`Output::Report`], after its invocation;
//! - open state is bounded ([`MAX_OPEN_INVOCATIONS`]); the oldest is closed as incomplete when full.

mod startup;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use foldhash::fast::RandomState;
use opentelemetry::trace::{SpanId, TraceId};

use self::startup::Startup;
pub use self::startup::{ColdStart, InitSummary, RestoreSummary, MAX_COLD_START_GAP};
use crate::lifecycle::{deadline_at, InvokeEvent};
use crate::logs::StreamPosition;
use crate::recent::RecentMap;
use crate::record::{InvocationRecord, NextRecord, ProxyRecord, RequestId, ResultRecord};
use crate::telemetry::{
    LogSource, PlatformStatus, Report, RuntimeDone, Start, TelemetryBody, TelemetryEvent,
};
use crate::trace_context::ParentChoice;

/// How long after a successful `runtimeDone` to wait for the proxy's result record, which travels on
/// another queue and may be handled second.
pub const RESULT_WAIT: Duration = Duration::from_millis(50);
/// How long past the deadline an invocation may stay open without any word from the platform.
pub const DEADLINE_GRACE: Duration = Duration::from_millis(500);
/// Invocations tracked at once (Lambda Managed Instances run many concurrently).
pub const MAX_OPEN_INVOCATIONS: usize = 256;
/// Closed invocations remembered for their late log lines and reports, and duplicates.
pub const MAX_REMEMBERED_CLOSED: usize = 1024;
/// Largest room (in lines) of the waiting-lines list kept for the next invocation once its
/// invocation closed; a larger one is freed.
const MAX_SPARE_LINES: usize = 64;
/// How many times the exported length of a line a waiting line keeps: the record is redacted
/// before it is cut to its length, so the waiting line keeps room for redactions that shorten it.
const WAITING_LINE_CHARS_FACTOR: usize = 4;

/// How many log lines are handed on, and how long they may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBounds {
    /// Lines per invocation (and per stretch of lines that belong to none); the rest are counted.
    pub records_per_invocation: u32,
    /// Characters of a line kept for export (the log record cuts it after redaction).
    pub line_chars: usize,
    /// Whether extension log lines (other extensions', lambda-lens's own) are handed on too.
    pub extension_logs: bool,
}

/// One input to the correlator.
#[derive(Debug, Clone)]
pub enum Input {
    /// Something the proxy saw.
    Proxy(ProxyRecord),
    /// An event from the Telemetry API.
    Telemetry(TelemetryEvent),
    /// An INVOKE from the Extensions API.
    Invoke(InvokeEvent),
}

/// Why an invocation was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The proxy saw the result accepted and the runtime ask for its next event.
    RuntimeNext,
    /// `platform.runtimeDone` arrived.
    RuntimeDone,
    /// The result passed the proxy; `runtimeDone` did not follow in time (or is not coming).
    ResultSeen,
    /// The deadline passed with neither.
    DeadlinePassed,
    /// Closed early: too many open invocations, or the environment is shutting down.
    Incomplete,
}

/// A log line the function (or an extension) wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// When the platform captured it.
    pub time: SystemTime,
    /// Who wrote it.
    pub source: LogSource,
    /// The text, or a JSON record's `message` (cut to a few times [`LogBounds::line_chars`]).
    pub message: String,
    /// Level, for JSON log records.
    pub level: Option<String>,
}

/// Log lines dropped since the last [`Correlator::take_dropped_logs`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DroppedLines {
    /// Over [`LogBounds::records_per_invocation`].
    pub over_limit: u64,
    /// By the platform, before they reached lambda-lens (`platform.logsDropped`).
    pub by_platform: u64,
}

/// The ids that join a log line or a report to its invocation's trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationIds {
    /// The invocation.
    pub request_id: RequestId,
    /// Its trace.
    pub trace_id: TraceId,
    /// Its invocation span.
    pub span_id: SpanId,
}

/// A log line, with its invocation when it has one (none: init, or not attributable).
#[derive(Debug, Clone, PartialEq)]
pub struct JoinedLog {
    /// The line.
    pub line: LogLine,
    /// Its invocation.
    pub invocation: Option<InvocationIds>,
}

/// A `platform.report`, joined to its invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinedReport {
    /// Its invocation.
    pub invocation: InvocationIds,
    /// The report.
    pub report: TelemetryEvent<Report>,
}

/// A closed invocation, everything the span builder needs.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationSummary {
    /// The invocation.
    pub request_id: RequestId,
    /// Why it was closed.
    pub reason: CloseReason,
    /// The trace, the remote parent and the linked context: the proxy's choice, else the Lambda
    /// X-Ray context's.
    pub parent: ParentChoice,
    /// Id of the invocation span.
    pub span_id: SpanId,
    /// An init or a restore happened just before this invocation (see [`ColdStart`]).
    pub coldstart: bool,
    /// The init that was this invocation's cold start.
    pub init: Option<InitSummary>,
    /// The SnapStart restore that was this invocation's cold start.
    pub restore: Option<RestoreSummary>,
    /// The INVOKE event.
    pub invoke: Option<InvokeEvent>,
    /// The event as handed to the runtime (boxed as the proxy queued it: moved, never copied).
    pub event: Option<Box<InvocationRecord>>,
    /// The runtime's result (boxed as the proxy queued it).
    pub result: Option<Box<ResultRecord>>,
    /// When the runtime asked for its next event after its accepted result.
    pub runtime_next: Option<SystemTime>,
    /// `platform.start`.
    pub platform_start: Option<TelemetryEvent<Start>>,
    /// `platform.runtimeDone`.
    pub runtime_done: Option<TelemetryEvent<RuntimeDone>>,
}

/// What the correlator hands on.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// An invocation is complete.
    Invocation(Box<InvocationSummary>),
    /// A log line, after its invocation's close when it has one (held in place: one or a few per
    /// invocation, each boxed would cost an allocation; the owner's output buffer is reused).
    Log(JoinedLog),
    /// An invocation's report, after its close.
    Report(Box<JoinedReport>),
}

#[derive(Debug, Default)]
struct Open {
    seq: u64,
    /// This process's first invocation: the one a cold start may have preceded.
    first: bool,
    invoke: Option<InvokeEvent>,
    event: Option<Box<InvocationRecord>>,
    result: Option<Box<ResultRecord>>,
    runtime_next: Option<SystemTime>,
    platform_start: Option<TelemetryEvent<Start>>,
    runtime_done: Option<TelemetryEvent<RuntimeDone>>,
    report: Option<TelemetryEvent<Report>>,
    /// Lines waiting for the close.
    logs: Vec<LogLine>,
}

impl Open {
    fn deadline(&self) -> Option<SystemTime> {
        let ms = self
            .invoke
            .as_ref()
            .map(|i| i.deadline_ms)
            .or_else(|| self.event.as_ref().and_then(|e| e.deadline_ms))?;
        deadline_at(ms)
    }

    fn result_end(&self) -> Option<SystemTime> {
        self.result.as_deref().map(ResultRecord::ended_at)
    }

    /// When the invocation began, as far as known: the event passed the proxy, else the platform
    /// started it.
    fn started_at(&self) -> Option<SystemTime> {
        self.event
            .as_ref()
            .map(|e| e.received_at)
            .or_else(|| self.platform_start.as_ref().map(|s| s.time))
    }

    /// The proxy saw everything: the result accepted and the runtime's next `/next`.
    fn seen_through(&self) -> bool {
        self.runtime_next.is_some() && self.result.as_deref().is_some_and(ResultRecord::accepted)
    }

    /// The X-Ray header, from whichever source carried it.
    fn trace_header(&self) -> Option<&str> {
        self.event
            .as_ref()
            .and_then(|e| e.trace_header.as_deref())
            .or_else(|| {
                self.invoke
                    .as_ref()
                    .and_then(|i| i.tracing.as_ref().map(|t| t.value.as_str()))
            })
            .or_else(|| {
                self.platform_start
                    .as_ref()
                    .and_then(|s| s.body.tracing.as_ref().map(|t| t.value.as_str()))
            })
            .or_else(|| {
                self.runtime_done
                    .as_ref()
                    .and_then(|d| d.body.tracing.as_ref().map(|t| t.value.as_str()))
            })
    }

    /// Whether the invocation is complete at `now`, and why; `startup_pending` when the
    /// environment's start is not known yet (only the first invocation waits for it).
    fn done(
        &self,
        now: SystemTime,
        runtime_done_wait: Duration,
        startup_pending: bool,
    ) -> Option<CloseReason> {
        if self.seen_through() && !(self.first && startup_pending) {
            return Some(CloseReason::RuntimeNext);
        }
        if let Some(wait_until) = self.result_wait_until() {
            return (wait_until <= now).then_some(CloseReason::RuntimeDone);
        }
        if let Some(end) = self.result_end() {
            if end + runtime_done_wait <= now {
                return Some(CloseReason::ResultSeen);
            }
        }
        match self.deadline() {
            Some(deadline) if deadline + DEADLINE_GRACE <= now => Some(CloseReason::DeadlinePassed),
            _ => None,
        }
    }

    /// With `runtimeDone` in: when to stop waiting for the proxy's result (now, unless the runtime
    /// succeeded through the proxy and its result record has not been handled yet).
    fn result_wait_until(&self) -> Option<SystemTime> {
        let done = self.runtime_done.as_ref()?;
        let awaiting_result = self.event.is_some()
            && self.result.is_none()
            && done.body.status == Some(PlatformStatus::Success);
        Some(if awaiting_result {
            done.time + RESULT_WAIT
        } else {
            SystemTime::UNIX_EPOCH
        })
    }

    /// When `done` may change without new input.
    fn next_check(&self, runtime_done_wait: Duration) -> Option<SystemTime> {
        if self.seen_through() {
            // Waiting only for the environment's start: bounded like the wait for runtimeDone.
            return self.result_end().map(|end| end + runtime_done_wait);
        }
        if let Some(wait_until) = self.result_wait_until() {
            return Some(wait_until);
        }
        let after_result = self.result_end().map(|end| end + runtime_done_wait);
        let after_deadline = self.deadline().map(|d| d + DEADLINE_GRACE);
        match (after_result, after_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Closed {
    trace_id: TraceId,
    span_id: SpanId,
    /// Its report was handed on (a duplicate is ignored).
    reported: bool,
    /// Its log lines handed on so far.
    log_lines: u32,
}

/// The correlation state; owned by one task.
pub struct Correlator {
    open: HashMap<RequestId, Open, RandomState>,
    closed: RecentMap<RequestId, Closed>,
    startup: Startup,
    /// No invocation seen yet: the next one is this process's cold start.
    cold: bool,
    telemetry_expected: bool,
    runtime_done_wait: Duration,
    seq: u64,
    new_span_id: Box<dyn FnMut() -> SpanId + Send>,
    stream: StreamPosition,
    log_bounds: LogBounds,
    /// Lines handed on since the stream left its last invocation (init lines, ambiguous lines).
    unattributed_lines: u32,
    /// Lines dropped since [`Correlator::take_dropped_logs`].
    dropped_logs: DroppedLines,
    /// The invocation closed last, while its `platform.report` has not arrived: on Lambda the
    /// last invocation's report comes with the thaw that brings SHUTDOWN.
    report_awaited: Option<RequestId>,
    /// The invocations [`Correlator::close_due_into`] found complete, kept empty between calls so
    /// that finding them allocates nothing.
    due: Vec<(RequestId, CloseReason)>,
    /// The waiting-lines list of the invocation closed last, emptied, for the next invocation's
    /// first line (at most [`MAX_SPARE_LINES`] lines' room).
    spare_lines: Vec<LogLine>,
}

impl Correlator {
    /// A correlator for a freshly initialised environment, which waits up to `runtime_done_wait`
    /// after a result for `platform.runtimeDone` (zero: close on the proxy's view alone);
    /// `new_span_id` makes span ids.
    pub fn new(
        runtime_done_wait: Duration,
        new_span_id: Box<dyn FnMut() -> SpanId + Send>,
        log_bounds: LogBounds,
    ) -> Self {
        Self {
            stream: StreamPosition::default(),
            log_bounds,
            unattributed_lines: 0,
            dropped_logs: DroppedLines::default(),
            report_awaited: None,
            open: HashMap::default(),
            closed: RecentMap::new(MAX_REMEMBERED_CLOSED),
            startup: Startup::default(),
            cold: true,
            telemetry_expected: true,
            runtime_done_wait,
            seq: 0,
            new_span_id,
            due: Vec::new(),
            spare_lines: Vec::new(),
        }
    }

    /// Sets whether `platform.runtimeDone` will arrive (known once the subscription answered); when it
    /// will not, results close their invocation at once.
    pub fn set_telemetry_expected(&mut self, expected: bool) {
        self.telemetry_expected = expected;
    }

    /// Log lines dropped since the last call.
    pub fn take_dropped_logs(&mut self) -> DroppedLines {
        std::mem::take(&mut self.dropped_logs)
    }

    /// Feeds one input at `now`; returns what that completed (see [`Correlator::push_into`]).
    #[cfg(test)]
    pub fn push(&mut self, input: Input, now: SystemTime) -> Vec<Output> {
        let mut out = Vec::new();
        self.push_into(input, now, &mut out);
        out
    }

    /// Feeds one input at `now`; appends to `out` what that completed: a log line or a report of a
    /// closed invocation, an invocation closed early to make room, and every invocation complete at
    /// `now`. The caller's buffer is reused from input to input: nothing is allocated per input.
    pub fn push_into(&mut self, input: Input, now: SystemTime, out: &mut Vec<Output>) {
        match input {
            Input::Proxy(ProxyRecord::Invocation(rec)) => {
                let id = rec.request_id.clone();
                if let Some(open) = self.open_mut(&id, out) {
                    open.event.get_or_insert(rec);
                }
            }
            Input::Proxy(ProxyRecord::Result(rec)) => {
                // An /init/error has no request id; the platform reports it through initReport.
                if let Some(id) = rec.request_id.clone() {
                    if let Some(open) = self.open_mut(&id, out) {
                        open.result.get_or_insert(rec);
                    }
                }
            }
            Input::Proxy(ProxyRecord::Next(NextRecord { request_id, at })) => {
                // Only an invocation still open: its result was just seen.
                if let Some(open) = self.open.get_mut(&request_id) {
                    open.runtime_next.get_or_insert(at);
                }
            }
            Input::Invoke(invoke) => {
                let id = invoke.request_id.clone();
                if let Some(open) = self.open_mut(&id, out) {
                    open.invoke.get_or_insert(invoke);
                }
            }
            Input::Telemetry(event) => self.telemetry(event, out),
        }
        self.close_due_into(now, out);
    }

    fn telemetry(&mut self, event: TelemetryEvent, out: &mut Vec<Output>) {
        // Every init, re-inits after a reset included, starts new extension processes, so the
        // cold start is always this process's first invocation; the start's events (replayed at the
        // first thaw, possibly after that invocation opened) only describe it.
        if matches!(event.body, TelemetryBody::InitStart { .. }) {
            // A new environment start: the stream is in no invocation.
            self.stream.init();
            self.unattributed_lines = 0;
        }
        if self.startup.observe(&event) {
            return;
        }
        let time = event.time;
        match event.body {
            TelemetryBody::Start(start) => {
                let request_id = start.request_id.clone();
                self.stream.start(&request_id, time);
                self.unattributed_lines = 0;
                if let Some(open) = self.open_mut(&request_id, out) {
                    open.platform_start
                        .get_or_insert(TelemetryEvent { time, body: start });
                }
            }
            TelemetryBody::RuntimeDone(done) => {
                let request_id = done.request_id.clone();
                self.stream.done(&request_id);
                if let Some(open) = self.open_mut(&request_id, out) {
                    open.runtime_done
                        .get_or_insert(TelemetryEvent { time, body: done });
                }
            }
            TelemetryBody::Report(report) => {
                let request_id = report.request_id.clone();
                // The invocation has ended: Managed Instances send no `runtimeDone`, and one lost
                // on-demand must not leave the stream ambiguous for good.
                self.stream.done(&request_id);
                if self.report_awaited.as_ref() == Some(&request_id) {
                    self.report_awaited = None;
                }
                let report = TelemetryEvent { time, body: report };
                if let Some(closed) = self.closed.get_mut(&request_id) {
                    // One report per invocation; the entry stays so later inputs cannot reopen it.
                    if !closed.reported {
                        closed.reported = true;
                        out.push(Output::Report(Box::new(JoinedReport {
                            invocation: closed.ids(request_id),
                            report,
                        })));
                    }
                } else if let Some(open) = self.open.get_mut(&request_id) {
                    open.report.get_or_insert(report);
                }
                // A report for an invocation never seen (an earlier extension process) is dropped.
            }
            TelemetryBody::Log {
                source,
                message,
                level,
                request_id,
            } => {
                // Other extensions' (and lambda-lens's own) lines only when asked for.
                if source == LogSource::Function || self.log_bounds.extension_logs {
                    let owner = request_id.or_else(|| self.stream.owner_of(time).cloned());
                    let line = LogLine {
                        time,
                        source,
                        message: cut_chars(
                            message,
                            self.log_bounds.line_chars * WAITING_LINE_CHARS_FACTOR,
                        ),
                        level,
                    };
                    self.join_log(owner, line, out);
                }
            }
            TelemetryBody::LogsDropped {
                dropped_records, ..
            } => self.dropped_logs.by_platform += dropped_records.unwrap_or(0),
            // The environment's start was taken by `startup` above.
            TelemetryBody::Other { .. }
            | TelemetryBody::InitStart { .. }
            | TelemetryBody::InitRuntimeDone { .. }
            | TelemetryBody::InitReport { .. }
            | TelemetryBody::RestoreStart { .. }
            | TelemetryBody::RestoreRuntimeDone { .. }
            | TelemetryBody::RestoreReport { .. } => {}
        }
    }

    /// Hands on `line` (now, or at its invocation's close), within the bounds.
    fn join_log(&mut self, owner: Option<RequestId>, line: LogLine, out: &mut Vec<Output>) {
        let limit = self.log_bounds.records_per_invocation;
        let dropped = &mut self.dropped_logs;
        let owner = owner.filter(|id| self.open.contains_key(id) || self.closed.contains_key(id));
        match owner {
            None => {
                if within_bound(&mut self.unattributed_lines, limit, dropped) {
                    out.push(Output::Log(JoinedLog {
                        line,
                        invocation: None,
                    }));
                }
            }
            Some(id) => {
                if let Some(open) = self.open.get_mut(&id) {
                    let mut taken = open.logs.len() as u32;
                    if within_bound(&mut taken, limit, dropped) {
                        if open.logs.capacity() == 0 {
                            open.logs = std::mem::take(&mut self.spare_lines);
                        }
                        open.logs.push(line);
                    }
                } else if let Some(closed) = self.closed.get_mut(&id) {
                    if within_bound(&mut closed.log_lines, limit, dropped) {
                        out.push(Output::Log(JoinedLog {
                            line,
                            invocation: Some(closed.ids(id)),
                        }));
                    }
                }
            }
        }
    }

    /// The open entry for `id`, created if new; `None` when the invocation was already closed.
    fn open_mut(&mut self, id: &RequestId, out: &mut Vec<Output>) -> Option<&mut Open> {
        if self.closed.contains_key(id) {
            return None;
        }
        if self.open.len() >= MAX_OPEN_INVOCATIONS && !self.open.contains_key(id) {
            if let Some(oldest) = self
                .open
                .iter()
                .min_by_key(|(_, o)| o.seq)
                .map(|(k, _)| k.clone())
            {
                self.close(&oldest, CloseReason::Incomplete, out);
            }
        }
        // One lookup whether the entry is new or not (every input of an invocation comes here).
        let (seq, cold) = (&mut self.seq, &mut self.cold);
        Some(self.open.entry(id.clone()).or_insert_with(|| {
            *seq += 1;
            Open {
                seq: *seq,
                first: std::mem::replace(cold, false),
                ..Open::default()
            }
        }))
    }

    /// Closes every invocation that is complete at `now`.
    #[cfg(test)]
    pub fn close_due(&mut self, now: SystemTime) -> Vec<Output> {
        let mut out = Vec::new();
        self.close_due_into(now, &mut out);
        out
    }

    /// Closes every invocation that is complete at `now`, appending to `out`: every input ends
    /// with it.
    pub fn close_due_into(&mut self, now: SystemTime, out: &mut Vec<Output>) {
        if self.open.is_empty() {
            return;
        }
        let (wait, startup_pending) = (self.effective_wait(), self.startup_pending());
        let mut due = std::mem::take(&mut self.due);
        due.extend(
            self.open
                .iter()
                .filter_map(|(id, o)| o.done(now, wait, startup_pending).map(|r| (id.clone(), r))),
        );
        for (id, reason) in due.drain(..) {
            self.close(&id, reason, out);
        }
        self.due = due;
    }

    /// The first invocation would close before the environment's start is known.
    fn startup_pending(&self) -> bool {
        self.telemetry_expected && !self.startup.known()
    }

    fn effective_wait(&self) -> Duration {
        if self.telemetry_expected {
            self.runtime_done_wait
        } else {
            Duration::ZERO
        }
    }

    /// Closes everything still open (shutdown).
    pub fn close_all(&mut self) -> Vec<Output> {
        let ids: Vec<RequestId> = self.open.keys().cloned().collect();
        let mut out = Vec::new();
        for id in ids {
            self.close(&id, CloseReason::Incomplete, &mut out);
        }
        out
    }

    /// Whether the invocation closed last still waits for its `platform.report` (and telemetry
    /// is coming at all): SHUTDOWN waits a little for it, or its report and metrics are lost.
    pub fn report_awaited(&self) -> bool {
        self.telemetry_expected && self.report_awaited.is_some()
    }

    /// Whether `id` is open: seen, and not closed yet.
    pub fn is_open(&self, id: &RequestId) -> bool {
        self.open.contains_key(id)
    }

    /// The earliest time at which an open invocation may become due without new input.
    pub fn next_check(&self) -> Option<SystemTime> {
        self.open
            .values()
            .filter_map(|o| o.next_check(self.effective_wait()))
            .min()
    }

    /// Closes `id` now, for `reason`: appends the invocation, then its waiting lines and report.
    fn close(&mut self, id: &RequestId, reason: CloseReason, out: &mut Vec<Output>) {
        let Some(open) = self.open.remove(id) else {
            return;
        };
        // The proxy chose the ids when the event passed (they may have been handed to the
        // function); without a proxy record they are made now.
        let (parent, span_id) = match open.event.as_ref().map(|e| &e.span) {
            Some(identity) => (identity.choice.clone(), identity.span_id),
            None => (
                ParentChoice::lambda(open.trace_header(), SystemTime::now()),
                (self.new_span_id)(),
            ),
        };
        let closed = Closed {
            trace_id: parent.trace.trace_id,
            span_id,
            reported: open.report.is_some(),
            log_lines: open.logs.len() as u32,
        };
        self.report_awaited = (!closed.reported).then(|| id.clone());
        self.closed.insert(id.clone(), closed);
        let cold_start = if open.first {
            self.startup.cold_start(open.started_at())
        } else {
            ColdStart::default()
        };
        out.push(Output::Invocation(Box::new(InvocationSummary {
            request_id: id.clone(),
            reason,
            parent,
            span_id,
            coldstart: cold_start.cold,
            init: cold_start.init,
            restore: cold_start.restore,
            invoke: open.invoke,
            event: open.event,
            result: open.result,
            runtime_next: open.runtime_next,
            platform_start: open.platform_start,
            runtime_done: open.runtime_done,
        })));
        let mut logs = open.logs;
        out.extend(logs.drain(..).map(|line| {
            Output::Log(JoinedLog {
                line,
                invocation: Some(closed.ids(id.clone())),
            })
        }));
        if logs.capacity() <= MAX_SPARE_LINES && logs.capacity() > self.spare_lines.capacity() {
            self.spare_lines = logs;
        }
        out.extend(open.report.map(|report| {
            Output::Report(Box::new(JoinedReport {
                invocation: closed.ids(id.clone()),
                report,
            }))
        }));
    }
}

impl Closed {
    fn ids(&self, request_id: RequestId) -> InvocationIds {
        InvocationIds {
            request_id,
            trace_id: self.trace_id,
            span_id: self.span_id,
        }
    }
}

/// Takes one of `limit` places, `taken` of them already gone; a line past the limit is counted in
/// `dropped` instead.
fn within_bound(taken: &mut u32, limit: u32, dropped: &mut DroppedLines) -> bool {
    if *taken >= limit {
        dropped.over_limit += 1;
        false
    } else {
        *taken += 1;
        true
    }
}

/// `message` cut to at most `chars` characters.
fn cut_chars(mut message: String, chars: usize) -> String {
    // No more bytes than `chars`: no more characters either, and nothing to count.
    if message.len() <= chars {
        return message;
    }
    if let Some((cut, _)) = message.char_indices().nth(chars) {
        message.truncate(cut);
    }
    message
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::lifecycle::EventTracing;
    use crate::record::{BodyCapture, ResultKind, SpanIdentity};
    use crate::telemetry::{PlatformSpan, PlatformTracing, ReportMetrics};

    const TRACE: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    /// The span id the proxy chose for events in these tests.
    const EVENT_SPAN: SpanId = SpanId::from_bytes([0xaa; 8]);

    fn t(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    /// The wait for `platform.runtimeDone` these tests configure (the default setting).
    const RUNTIME_DONE_WAIT: Duration = Duration::from_millis(250);

    /// The per-invocation line bound these tests configure.
    const LINES: u32 = 4;

    fn correlator() -> Correlator {
        let mut next = 0u64;
        Correlator::new(
            RUNTIME_DONE_WAIT,
            Box::new(move || {
                next += 1;
                SpanId::from(next)
            }),
            LogBounds {
                records_per_invocation: LINES,
                line_chars: 8,
                extension_logs: false,
            },
        )
    }

    fn id(s: &str) -> RequestId {
        RequestId::new(s)
    }

    fn invoke(rid: &str, deadline: u64) -> Input {
        Input::Invoke(InvokeEvent {
            request_id: id(rid),
            deadline_ms: 1_700_000_000_000 + deadline,
            invoked_function_arn: Some("arn:aws:lambda:us-east-1:123456789012:function:f".into()),
            tracing: Some(EventTracing {
                value: TRACE.into(),
            }),
        })
    }

    fn event(rid: &str, at: u64) -> Input {
        Input::Proxy(ProxyRecord::from(InvocationRecord {
            request_id: id(rid),
            deadline_ms: None,
            invoked_function_arn: None,
            trace_header: None,
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
            content_type: Some("application/json".into()),
            upstream_status: 200,
            received_at: t(at),
            event: BodyCapture {
                size: 2,
                head: Bytes::from_static(b"{}"),
                complete: true,
                first_byte_at: Some(t(at)),
                ended_at: Some(t(at)),
            },
            records: None,
            span: SpanIdentity {
                choice: ParentChoice::lambda(Some(TRACE), t(at)),
                span_id: EVENT_SPAN,
            },
            event_parse: None,
        }))
    }

    fn result(rid: &str, at: u64) -> Input {
        Input::Proxy(ProxyRecord::from(ResultRecord {
            kind: ResultKind::Response,
            request_id: Some(id(rid)),
            started_at: t(at),
            streaming: false,
            content_type: None,
            error_type: None,
            error_body_trailer: None,
            xray_error_cause: None,
            body: BodyCapture {
                size: 4,
                head: Bytes::from_static(b"\"ok\""),
                complete: true,
                first_byte_at: Some(t(at)),
                ended_at: Some(t(at)),
            },
            upstream_status: Some(202),
            upstream_error: None,
            upstream_body: BodyCapture::default(),
        }))
    }

    fn tel(at: u64, body: TelemetryBody) -> Input {
        Input::Telemetry(TelemetryEvent { time: t(at), body })
    }

    fn runtime_done(rid: &str, at: u64, status: PlatformStatus, error: Option<&str>) -> Input {
        tel(
            at,
            TelemetryBody::RuntimeDone(RuntimeDone {
                request_id: id(rid),
                status: Some(status),
                error_type: error.map(str::to_owned),
                duration_ms: Some(12.5),
                produced_bytes: Some(4),
                spans: vec![PlatformSpan {
                    name: "responseLatency".into(),
                    start: t(at.saturating_sub(10)),
                    duration_ms: 3.0,
                }],
                tracing: None,
            }),
        )
    }

    fn report(rid: &str, at: u64) -> Input {
        tel(
            at,
            TelemetryBody::Report(Report {
                request_id: id(rid),
                status: Some(PlatformStatus::Success),
                error_type: None,
                metrics: ReportMetrics {
                    duration_ms: Some(15.0),
                    billed_duration_ms: Some(16),
                    memory_size_mb: Some(128),
                    max_memory_used_mb: Some(40),
                    init_duration_ms: None,
                    restore_duration_ms: None,
                },
                spans: vec![],
                tracing: None,
                tenant_id: None,
            }),
        )
    }

    fn invocation(outputs: &[Output]) -> &InvocationSummary {
        match outputs {
            [Output::Invocation(inv)] => inv,
            other => panic!("expected one invocation, got {other:?}"),
        }
    }

    fn log(at: u64, source: LogSource, message: &str, request_id: Option<&str>) -> Input {
        tel(
            at,
            TelemetryBody::Log {
                source,
                message: message.into(),
                level: None,
                request_id: request_id.map(id),
            },
        )
    }

    fn start(rid: &str, at: u64) -> Input {
        tel(
            at,
            TelemetryBody::Start(Start {
                request_id: id(rid),
                version: None,
                tracing: None,
                tenant_id: None,
            }),
        )
    }

    /// The log lines among `outputs`: (message, request id of the invocation it joined).
    fn lines(outputs: &[Output]) -> Vec<(String, Option<String>)> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Log(joined) => Some((
                    joined.line.message.clone(),
                    joined
                        .invocation
                        .as_ref()
                        .map(|i| i.request_id.as_str().to_owned()),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn normal_sequence_closes_on_runtime_done_with_every_view() {
        let mut c = correlator();
        assert!(c
            .push(
                tel(
                    0,
                    TelemetryBody::InitStart {
                        initialization_type: Some("on-demand".into()),
                        phase: Some("init".into()),
                        function_name: None,
                        function_version: None,
                        instance_id: None,
                        instance_max_memory: None,
                        runtime_version: None,
                    }
                ),
                t(0)
            )
            .is_empty());
        c.push(
            tel(
                80,
                TelemetryBody::InitRuntimeDone {
                    initialization_type: None,
                    phase: None,
                    status: Some(PlatformStatus::Success),
                    error_type: None,
                    spans: vec![],
                },
            ),
            t(80),
        );
        assert!(c.push(invoke("a", 3000), t(100)).is_empty());
        c.push(
            tel(
                100,
                TelemetryBody::Start(Start {
                    request_id: id("a"),
                    version: Some("$LATEST".into()),
                    tracing: None,
                    tenant_id: None,
                }),
            ),
            t(100),
        );
        c.push(event("a", 101), t(101));
        c.push(
            tel(
                105,
                TelemetryBody::Log {
                    source: LogSource::Function,
                    message: "hello".into(),
                    level: None,
                    request_id: None,
                },
            ),
            t(105),
        );
        assert!(
            c.push(result("a", 110), t(110)).is_empty(),
            "waits for runtimeDone"
        );
        let out = c.push(
            runtime_done("a", 112, PlatformStatus::Success, None),
            t(112),
        );
        let Some(Output::Invocation(inv)) = out.first() else {
            panic!("expected the invocation first, got {out:?}");
        };
        assert_eq!(lines(&out), [("hello".to_owned(), Some("a".to_owned()))]);
        assert_eq!(out.len(), 2);
        assert_eq!(inv.reason, CloseReason::RuntimeDone);
        assert!(inv.coldstart);
        let init = inv.init.as_ref().expect("cold start carries init");
        assert_eq!(init.start, Some(t(0)));
        assert_eq!(init.runtime_done, Some(t(80)));
        assert_eq!(init.initialization_type.as_deref(), Some("on-demand"));
        assert_eq!(
            inv.parent.trace.trace_id,
            TraceId::from_hex("5759e988bd862e3fe1be46a994272793").expect("hex")
        );
        assert_eq!(
            inv.parent.trace.parent_span_id,
            Some(SpanId::from_hex("53995c3f42cd8ad8").expect("hex"))
        );
        assert_eq!(inv.span_id, EVENT_SPAN, "the proxy's choice");
        let start = inv.platform_start.as_ref().expect("platform.start");
        assert_eq!(start.time, t(100));
        assert_eq!(start.body.version.as_deref(), Some("$LATEST"));
        assert!(inv.event.is_some() && inv.result.is_some() && inv.runtime_done.is_some());
        assert!(!c.is_open(&id("a")));

        // The report comes at the next thaw, joined to the closed invocation.
        let trace_id = inv.parent.trace.trace_id;
        let out = c.push(report("a", 5000), t(5000));
        match out.as_slice() {
            [Output::Report(joined)] => {
                assert_eq!(joined.report.body.request_id, id("a"));
                assert_eq!(joined.invocation.request_id, id("a"));
                assert_eq!(joined.invocation.span_id, EVENT_SPAN);
                assert_eq!(joined.invocation.trace_id, trace_id);
                assert_eq!(joined.report.body.metrics.billed_duration_ms, Some(16));
            }
            other => panic!("expected the report, got {other:?}"),
        }
        assert!(
            c.push(report("a", 5001), t(5001)).is_empty(),
            "duplicate report ignored"
        );
    }

    fn next(rid: &str, at: u64) -> Input {
        Input::Proxy(ProxyRecord::Next(NextRecord {
            request_id: id(rid),
            at: t(at),
        }))
    }

    /// A correlator that saw a `kind` init from `t(0)` to `t(init_done)`, and its report.
    fn initialised(kind: &str, init_done: u64) -> Correlator {
        let mut c = correlator();
        c.push(Input::Telemetry(startup::tests::init_start(0, kind)), t(0));
        c.push(
            Input::Telemetry(startup::tests::init_done(init_done)),
            t(init_done),
        );
        let report = startup::tests::init_report(init_done + 2, (init_done + 2) as f64);
        c.push(Input::Telemetry(report), t(init_done + 2));
        c
    }

    /// The proxy's view of a whole invocation `rid` from `t(at)`: event, result 10 ms later, the
    /// runtime's next `/next` 1 ms after that; what the last one closed.
    fn seen_through(c: &mut Correlator, rid: &str, at: u64) -> Vec<Output> {
        c.push(event(rid, at), t(at));
        assert!(c.push(result(rid, at + 10), t(at + 10)).is_empty());
        c.push(next(rid, at + 11), t(at + 11))
    }

    #[test]
    fn an_accepted_result_and_the_runtimes_next_close_without_the_platform() {
        let mut c = initialised("on-demand", 80);
        c.push(invoke("a", 3000), t(100));
        let out = seen_through(&mut c, "a", 100);
        let inv = invocation(&out);
        assert_eq!(inv.reason, CloseReason::RuntimeNext);
        assert_eq!(inv.runtime_next, Some(t(111)));
        assert!(inv.coldstart);
        assert_eq!(inv.init.as_ref().and_then(|i| i.start), Some(t(0)));
        assert!(inv.runtime_done.is_none(), "nothing waited for");
        assert!(
            c.push(
                runtime_done("a", 112, PlatformStatus::Success, None),
                t(140)
            )
            .is_empty(),
            "the platform's word comes too late and changes nothing"
        );

        // Warm: the same, with nothing to wait for.
        c.push(invoke("b", 3000), t(200));
        let out = seen_through(&mut c, "b", 200);
        let warm = invocation(&out);
        assert_eq!(warm.reason, CloseReason::RuntimeNext);
        assert!(!warm.coldstart && warm.init.is_none());
        assert!(
            c.push(next("zz", 207), t(207)).is_empty(),
            "a /next for an unknown invocation opens nothing"
        );
        assert!(!c.is_open(&id("zz")));
    }

    #[test]
    fn the_cold_start_waits_a_bounded_time_for_the_init_events() {
        let mut c = correlator();
        c.push(invoke("a", 3000), t(0));
        assert!(
            seen_through(&mut c, "a", 0).is_empty(),
            "the first invocation waits for its cold start"
        );
        assert_eq!(c.next_check(), Some(t(10) + RUNTIME_DONE_WAIT));
        c.push(
            Input::Telemetry(startup::tests::init_start(0, "on-demand")),
            t(30),
        );
        assert!(
            c.push(Input::Telemetry(startup::tests::init_done(0)), t(31))
                .is_empty(),
            "the init's report, with its duration, is the last of its events"
        );
        let out = c.push(
            Input::Telemetry(startup::tests::init_report(0, 57.5)),
            t(32),
        );
        let inv = invocation(&out);
        assert_eq!(inv.reason, CloseReason::RuntimeNext);
        assert!(inv.coldstart);
        let init = inv.init.as_ref().expect("init");
        assert_eq!(
            (init.runtime_done, init.duration_ms),
            (Some(t(0)), Some(57.5))
        );

        // Init events that never come: closed once the wait is over, still a cold start.
        let mut c = correlator();
        c.push(invoke("b", 3000), t(0));
        seen_through(&mut c, "b", 0);
        assert!(c
            .close_due(t(10) + RUNTIME_DONE_WAIT - Duration::from_millis(1))
            .is_empty());
        let out = c.close_due(t(10) + RUNTIME_DONE_WAIT);
        let inv = invocation(&out);
        assert_eq!(inv.reason, CloseReason::ResultSeen);
        assert_eq!(inv.runtime_next, Some(t(11)));
        assert!(inv.coldstart && inv.init.is_none());
    }

    #[test]
    fn provisioned_concurrency_and_old_inits_are_no_cold_start() {
        let mut c = initialised("provisioned-concurrency", 500);
        let out = seen_through(&mut c, "a", 60_000);
        let inv = invocation(&out);
        assert!(!inv.coldstart);
        assert!(inv.init.is_none());

        let mut c = initialised("on-demand", 500);
        let out = seen_through(&mut c, "a", 11_000);
        assert!(!invocation(&out).coldstart, "more than 10 s after the init");
    }

    #[test]
    fn a_snapstart_restore_is_the_cold_start() {
        let mut c = initialised("snap-start", 500);
        assert!(
            seen_through(&mut c, "a", 3_600_000).is_empty(),
            "waits for the restore's events"
        );
        c.push(
            tel(3_599_700, TelemetryBody::RestoreStart { instance_id: None }),
            t(3_600_020),
        );
        // The runtime's end of restore and the restore's report come in one batch, one by one.
        assert!(c
            .push(
                tel(
                    3_599_990,
                    TelemetryBody::RestoreRuntimeDone {
                        status: Some(PlatformStatus::Success),
                        error_type: None,
                    },
                ),
                t(3_600_021),
            )
            .is_empty());
        let out = c.push(
            tel(
                3_599_991,
                TelemetryBody::RestoreReport {
                    status: Some(PlatformStatus::Success),
                    error_type: None,
                    duration_ms: Some(291.25),
                },
            ),
            t(3_600_021),
        );
        let inv = invocation(&out);
        assert!(inv.coldstart);
        assert!(inv.init.is_none());
        let restore = inv.restore.as_ref().expect("restore");
        assert_eq!(
            (restore.start, restore.runtime_done, restore.duration_ms),
            (Some(t(3_599_700)), Some(t(3_599_990)), Some(291.25))
        );
    }

    #[test]
    fn a_rejected_result_waits_for_the_platform_despite_the_next() {
        let mut c = initialised("on-demand", 5);
        c.push(event("a", 10), t(10));
        let Input::Proxy(ProxyRecord::Result(mut rejected)) = result("a", 20) else {
            unreachable!("result() builds a result record")
        };
        rejected.upstream_status = Some(413);
        c.push(Input::Proxy(ProxyRecord::Result(rejected)), t(20));
        assert!(c.push(next("a", 21), t(21)).is_empty());
        let out = c.push(
            runtime_done(
                "a",
                30,
                PlatformStatus::Error,
                Some("Function.ResponseSizeTooLarge"),
            ),
            t(30),
        );
        assert_eq!(invocation(&out).reason, CloseReason::RuntimeDone);
    }

    #[test]
    fn only_the_first_invocation_is_cold_even_when_init_events_arrive_late() {
        let mut c = correlator();
        c.push(invoke("a", 3000), t(0));
        // The frozen init's events are delivered at the first thaw, after INVOKE.
        c.push(
            tel(
                1,
                TelemetryBody::InitStart {
                    initialization_type: Some("on-demand".into()),
                    phase: Some("invoke".into()),
                    function_name: None,
                    function_version: None,
                    instance_id: None,
                    instance_max_memory: None,
                    runtime_version: None,
                },
            ),
            t(1),
        );
        let cold = c.push(runtime_done("a", 10, PlatformStatus::Success, None), t(10));
        let inv = invocation(&cold);
        assert!(inv.coldstart);
        assert_eq!(
            inv.init.as_ref().and_then(|i| i.phase.as_deref()),
            Some("invoke")
        );
        c.push(invoke("b", 3000), t(20));
        let warm = c.push(runtime_done("b", 30, PlatformStatus::Success, None), t(30));
        assert!(!invocation(&warm).coldstart);
        assert!(invocation(&warm).init.is_none());
    }

    #[test]
    fn runtime_done_before_the_proxy_result_waits_briefly_for_it() {
        let mut c = correlator();
        c.push(invoke("a", 3000), t(0));
        c.push(event("a", 1), t(1));
        assert!(c
            .push(runtime_done("a", 9, PlatformStatus::Success, None), t(9))
            .is_empty());
        assert_eq!(c.next_check(), Some(t(9) + RESULT_WAIT));
        let out = c.push(result("a", 8), t(10));
        let inv = invocation(&out);
        assert!(inv.result.is_some(), "the result joined");
        assert_eq!(inv.reason, CloseReason::RuntimeDone);
        assert!(
            c.push(result("a", 8), t(11)).is_empty(),
            "a late duplicate does not reopen"
        );
        assert!(!c.is_open(&id("a")));

        // Without the result, it closes once the wait is over.
        c.push(invoke("b", 3000), t(20));
        c.push(event("b", 21), t(21));
        c.push(runtime_done("b", 30, PlatformStatus::Success, None), t(30));
        assert!(c
            .close_due(t(30) + RESULT_WAIT - Duration::from_millis(1))
            .is_empty());
        let out = c.close_due(t(30) + RESULT_WAIT);
        assert!(invocation(&out).result.is_none());
    }

    #[test]
    fn missing_runtime_done_closes_after_the_wait() {
        let mut c = correlator();
        c.push(invoke("a", 3000), t(0));
        c.push(event("a", 1), t(1));
        assert!(c.push(result("a", 50), t(50)).is_empty());
        assert_eq!(c.next_check(), Some(t(50) + RUNTIME_DONE_WAIT));
        assert!(c
            .close_due(t(50) + RUNTIME_DONE_WAIT - Duration::from_millis(1))
            .is_empty());
        let out = c.close_due(t(50) + RUNTIME_DONE_WAIT);
        assert_eq!(invocation(&out).reason, CloseReason::ResultSeen);
    }

    #[test]
    fn without_telemetry_the_result_closes_at_once() {
        let mut c = correlator();
        c.set_telemetry_expected(false);
        c.push(event("a", 1), t(1));
        let out = c.push(result("a", 5), t(5));
        let inv = invocation(&out);
        assert_eq!(inv.reason, CloseReason::ResultSeen);
        assert!(inv.invoke.is_none(), "no INVOKE needed (Managed Instances)");
    }

    #[test]
    fn a_timeout_reported_by_the_platform_closes_with_its_status() {
        let mut c = correlator();
        c.push(invoke("a", 3000), t(0));
        c.push(event("a", 1), t(1));
        let out = c.push(
            runtime_done("a", 3001, PlatformStatus::Timeout, Some("Sandbox.Timeout")),
            t(3001),
        );
        let inv = invocation(&out);
        assert!(inv.result.is_none());
        let done = &inv.runtime_done.as_ref().expect("runtimeDone").body;
        assert_eq!(done.status, Some(PlatformStatus::Timeout));
        assert_eq!(done.error_type.as_deref(), Some("Sandbox.Timeout"));
    }

    #[test]
    fn silence_past_the_deadline_closes_as_deadline_passed() {
        let mut c = correlator();
        c.push(invoke("a", 3000), t(0));
        c.push(event("a", 1), t(1));
        assert_eq!(c.next_check(), Some(t(3000) + DEADLINE_GRACE));
        assert!(c.close_due(t(3000)).is_empty());
        let out = c.close_due(t(3000) + DEADLINE_GRACE);
        assert_eq!(invocation(&out).reason, CloseReason::DeadlinePassed);
    }

    #[test]
    fn duplicated_inputs_keep_the_first_and_close_once() {
        let mut c = correlator();
        c.push(invoke("a", 3000), t(0));
        c.push(invoke("a", 9999), t(1));
        c.push(event("a", 2), t(2));
        c.push(event("a", 3), t(3));
        c.push(result("a", 4), t(4));
        let out = c.push(runtime_done("a", 10, PlatformStatus::Success, None), t(10));
        let inv = invocation(&out);
        assert_eq!(
            inv.invoke.as_ref().map(|i| i.deadline_ms),
            Some(1_700_000_003_000)
        );
        assert_eq!(inv.event.as_ref().map(|e| e.received_at), Some(t(2)));
        assert!(c
            .push(runtime_done("a", 11, PlatformStatus::Success, None), t(11))
            .is_empty());
        assert!(c.push(invoke("a", 3000), t(12)).is_empty());
    }

    #[test]
    fn shutdown_mid_invocation_closes_it_as_incomplete() {
        let mut c = correlator();
        c.push(invoke("a", 3000), t(0));
        c.push(event("a", 1), t(1));
        let out = c.close_all();
        let inv = invocation(&out);
        assert_eq!(inv.reason, CloseReason::Incomplete);
        assert!(inv.result.is_none());
        assert!(c.close_all().is_empty());
    }

    #[test]
    fn concurrent_invocations_stay_apart_and_open_state_is_bounded() {
        let mut c = correlator();
        c.set_telemetry_expected(false);
        c.push(event("a", 1), t(1));
        c.push(event("b", 2), t(2));
        let out_b = c.push(result("b", 3), t(3));
        assert_eq!(invocation(&out_b).request_id, id("b"));
        let out_a = c.push(result("a", 4), t(4));
        assert_eq!(invocation(&out_a).request_id, id("a"));

        let mut closed = 0;
        for i in 0..(MAX_OPEN_INVOCATIONS + 3) {
            closed += c.push(event(&format!("x{i}"), 10), t(10)).len();
        }
        assert_eq!(closed, 3, "the oldest are closed as incomplete when full");
        assert_eq!(c.open.len(), MAX_OPEN_INVOCATIONS);
    }

    #[test]
    fn trace_context_falls_back_through_the_sources_and_generates_when_none() {
        let mut c = correlator();
        c.push(
            Input::Invoke(InvokeEvent {
                request_id: id("a"),
                deadline_ms: 0,
                invoked_function_arn: None,
                tracing: None,
            }),
            t(0),
        );
        c.push(
            tel(
                1,
                TelemetryBody::Start(Start {
                    request_id: id("a"),
                    version: None,
                    tracing: Some(PlatformTracing {
                        span_id: None,
                        value: "Root=1-65f2a0e2-6ac9f94e5c1e0e8b4bf0e1c7;Lineage=a87bd80c:0".into(),
                    }),
                    tenant_id: None,
                }),
            ),
            t(1),
        );
        let out = c.push(runtime_done("a", 5, PlatformStatus::Success, None), t(5));
        let inv = invocation(&out);
        assert_eq!(
            inv.parent.trace.trace_id,
            TraceId::from_hex("65f2a0e26ac9f94e5c1e0e8b4bf0e1c7").expect("hex")
        );
        assert_eq!(inv.parent.trace.parent_span_id, None);

        c.push(
            Input::Invoke(InvokeEvent {
                request_id: id("b"),
                deadline_ms: 0,
                invoked_function_arn: None,
                tracing: None,
            }),
            t(10),
        );
        let out = c.push(runtime_done("b", 15, PlatformStatus::Success, None), t(15));
        let generated = invocation(&out).parent.trace.trace_id;
        assert_ne!(generated, TraceId::INVALID);
    }

    #[test]
    fn lines_join_their_invocation_open_or_closed_and_each_once() {
        let mut c = correlator();
        // Init lines: no invocation.
        let out = c.push(log(0, LogSource::Function, "loading", None), t(0));
        assert_eq!(lines(&out), [("loading".to_owned(), None)]);
        c.push(invoke("a", 3000), t(1));
        c.push(start("a", 2), t(2));
        c.push(event("a", 3), t(3));
        assert!(c
            .push(log(4, LogSource::Function, "text", None), t(4))
            .is_empty());
        assert!(c
            .push(log(5, LogSource::Function, "json", Some("a")), t(5))
            .is_empty());
        assert!(
            c.push(log(5, LogSource::Extension, "ext", None), t(5))
                .is_empty(),
            "extension lines stay out"
        );
        let out = c.push(runtime_done("a", 9, PlatformStatus::Success, None), t(9));
        let out = [out, c.close_due(t(9) + RESULT_WAIT)].concat();
        assert_eq!(
            lines(&out),
            [
                ("text".to_owned(), Some("a".to_owned())),
                ("json".to_owned(), Some("a".to_owned()))
            ]
        );
        assert!(!c.is_open(&id("a")));
        // Closed: lines still arrive through the telemetry buffer, and join at once.
        let out = c.push(log(10, LogSource::Function, "late", None), t(40));
        match out.as_slice() {
            [Output::Log(joined)] => {
                let ids = joined.invocation.as_ref().expect("joined");
                assert_eq!(ids.span_id, EVENT_SPAN);
                assert_eq!(
                    ids.trace_id,
                    TraceId::from_hex("5759e988bd862e3fe1be46a994272793").expect("hex")
                );
                assert_eq!(joined.line.time, t(10));
            }
            other => panic!("expected one line, got {other:?}"),
        }
        // The report before the close waits for it, and comes once.
        c.push(invoke("b", 3000), t(50));
        c.push(start("b", 50), t(50));
        assert!(c.push(report("b", 55), t(55)).is_empty());
        let out = c.push(log(56, LogSource::Function, "b-line", None), t(56));
        assert!(out.is_empty());
        let out = c.push(runtime_done("b", 57, PlatformStatus::Success, None), t(57));
        assert!(matches!(
            out.as_slice(),
            [Output::Invocation(_), Output::Log(_), Output::Report(_)]
        ));
        assert!(c.push(report("b", 58), t(58)).is_empty(), "once");
        // A re-init's lines belong to no invocation.
        c.push(
            tel(
                60,
                TelemetryBody::InitStart {
                    initialization_type: None,
                    phase: Some("invoke".into()),
                    function_name: None,
                    function_version: None,
                    instance_id: None,
                    instance_max_memory: None,
                    runtime_version: None,
                },
            ),
            t(60),
        );
        let out = c.push(log(61, LogSource::Function, "reinit", None), t(61));
        assert_eq!(lines(&out), [("reinit".to_owned(), None)]);
        assert_eq!(c.take_dropped_logs(), DroppedLines::default());
    }

    #[test]
    fn without_runtime_done_a_report_ends_the_invocation_in_the_stream() {
        // Managed Instances send no runtimeDone: after two invocations that ran one after the
        // other, a text line still joins the one running now.
        let mut c = correlator();
        for (rid, at) in [("a", 10), ("b", 20)] {
            c.push(start(rid, at), t(at));
            c.push(report(rid, at + 5), t(at + 5));
        }
        c.push(invoke("c", 3000), t(30));
        c.push(start("c", 30), t(30));
        c.push(runtime_done("c", 40, PlatformStatus::Success, None), t(40));
        let out = c.push(log(35, LogSource::Function, "print", None), t(41));
        assert_eq!(lines(&out), [("print".to_owned(), Some("c".to_owned()))]);
    }

    #[test]
    fn the_last_closed_invocation_awaits_its_report() {
        let mut c = correlator();
        assert!(!c.report_awaited());
        c.push(invoke("a", 3000), t(0));
        c.push(start("a", 1), t(1));
        c.push(runtime_done("a", 5, PlatformStatus::Error, None), t(5));
        assert!(!c.is_open(&id("a")));
        assert!(c.report_awaited(), "closed before its report");
        c.push(report("a", 6), t(6));
        assert!(!c.report_awaited());
        c.set_telemetry_expected(false);
        c.push(invoke("b", 3000), t(10));
        c.push(runtime_done("b", 15, PlatformStatus::Error, None), t(15));
        assert!(!c.report_awaited(), "no telemetry, no report to wait for");
    }

    #[test]
    fn lines_are_bounded_per_invocation_and_cut() {
        let mut c = correlator();
        c.push(invoke("a", 3000), t(0));
        c.push(start("a", 0), t(0));
        for i in 0..(LINES + 5) {
            c.push(
                log(1, LogSource::Function, &"é".repeat(100 + i as usize), None),
                t(1),
            );
        }
        let out = c.push(runtime_done("a", 5, PlatformStatus::Success, None), t(5));
        let joined = lines(&out);
        assert_eq!(joined.len(), LINES as usize);
        assert_eq!(joined[0].0.chars().count(), 8 * WAITING_LINE_CHARS_FACTOR);
        for _ in 0..3 {
            c.push(log(6, LogSource::Function, "after", None), t(6));
        }
        c.push(
            tel(
                7,
                TelemetryBody::LogsDropped {
                    dropped_bytes: Some(900),
                    dropped_records: Some(2),
                    reason: None,
                },
            ),
            t(7),
        );
        assert_eq!(
            c.take_dropped_logs(),
            DroppedLines {
                over_limit: 5 + 3,
                by_platform: 2
            }
        );
        assert_eq!(c.take_dropped_logs(), DroppedLines::default());
    }

    #[test]
    fn extension_lines_when_asked_for() {
        let mut c = correlator();
        c.log_bounds.extension_logs = true;
        let out = c.push(log(0, LogSource::Extension, "ext", None), t(0));
        match out.as_slice() {
            [Output::Log(joined)] => assert_eq!(joined.line.source, LogSource::Extension),
            other => panic!("expected one line, got {other:?}"),
        }
    }
}
