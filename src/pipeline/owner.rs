//! The owner task's I/O: it waits on the proxy's records, the telemetry events, the lifecycle
//! commands and one timer; feeds the correlator; builds and queues the spans of what it closed,
//! the log records of the lines and reports it joined and the metrics ([`Signals`]); and runs the
//! flushes [`Releases`] decides on.

use std::time::{Duration, SystemTime};

use opentelemetry_sdk::trace::SpanData;
use tokio::sync::mpsc;
use tracing::Level;

use super::release::{Backlog, Releases};
use super::sampling::Sampling;
use super::signals::Signals;
use super::{Command, PipelineSetup};
use crate::correlate::{Correlator, Input, InvocationSummary, Output};
use crate::export::{Exporter, Occasion};
use crate::logging::{self, RECORD_TARGET};
use crate::record::ProxyRecord;
use crate::spans::{self, CaptureSettings, FunctionInfo};
use crate::telemetry::{BatchReceiver, TelemetryBody, TelemetryEvent};
use crate::trace_context::{new_span_id, Propagators};

/// Longest SHUTDOWN waits for the last invocation's `platform.report` (at most a quarter of the
/// SHUTDOWN budget): the Telemetry API buffers events for 25 ms.
const SHUTDOWN_REPORT_WAIT: Duration = Duration::from_millis(200);

/// On its own thread (Lambda Managed Instances), how long the owner lets records gather after one
/// woke it before it takes them all in: every wake-up from the proxy's thread is a system call on
/// the proxy's path, so one per this interval replaces one per record. Spans close at most this much
/// later, which nothing waits for there (export is batched). At this interval the record queue
/// ([`OBSERVATION_QUEUE_CAPACITY`](crate::record::OBSERVATION_QUEUE_CAPACITY)) holds the records of over 60 000 invocations a second.
pub(super) const BACKGROUND_RECORD_GATHERING: Duration = Duration::from_millis(5);

/// The state of the owner task.
pub(super) struct Owner {
    correlator: Correlator,
    function: FunctionInfo,
    exporter: Option<Exporter>,
    sampling: Sampling,
    capture: CaptureSettings,
    propagators: Propagators,
    releases: Releases,
    signals: Signals,
    /// [`BACKGROUND_RECORD_GATHERING`] when the owner runs on its own thread; `None` on the proxy's.
    gathering: Option<Duration>,
}

impl Owner {
    /// The owner task's state before its first input.
    pub(super) fn new(setup: PipelineSetup, gathering: Option<Duration>) -> Self {
        Self {
            correlator: Correlator::new(
                setup.runtime_done_wait,
                Box::new(new_span_id),
                setup.signals.logs,
            ),
            function: setup.function,
            releases: Releases::new(setup.exporter.is_some(), setup.flush_timeout),
            signals: Signals::new(&setup.signals, setup.exporter.as_ref(), SystemTime::now()),
            exporter: setup.exporter,
            sampling: Sampling::new(setup.sampler),
            capture: setup.capture,
            propagators: setup.propagators,
            gathering,
        }
    }

    /// Serves the queues until all of them are closed.
    pub(super) async fn run(
        mut self,
        mut records: mpsc::Receiver<ProxyRecord>,
        mut telemetry: BatchReceiver,
        mut commands: mpsc::Receiver<Command>,
    ) {
        // One timer for the whole loop, moved earlier when needed but left alone when a later check
        // would do: it then fires early once and is re-armed. Arming a fresh timer for every
        // invocation would wake the runtime's driver through its eventfd each time.
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        let mut armed: Option<tokio::time::Instant> = None;
        // The next check the timer was last looked at for: while it stays the same and the timer
        // is armed, nothing needs the clocks (most turns).
        let mut looked_at: Option<SystemTime> = None;
        // What each turn completed, built into spans and records at its end: one buffer for the
        // whole loop, so that a turn allocates none.
        let mut outputs = Vec::new();
        loop {
            let next = [self.correlator.next_check(), self.releases.next_wake()]
                .into_iter()
                .flatten()
                .min();
            if next != looked_at || armed.is_none() {
                looked_at = next;
                let wake = next.map(|at| {
                    let wait = at
                        .duration_since(SystemTime::now())
                        .unwrap_or(Duration::ZERO);
                    tokio::time::Instant::now() + wait
                });
                if let Some(at) = wake {
                    if armed.is_none_or(|armed_at| at < armed_at) {
                        timer.as_mut().reset(at);
                        armed = Some(at);
                    }
                }
            }
            tokio::select! {
                // Telemetry first, after every record already queued: a runtimeDone must not
                // overtake the result it follows, and a steady stream of records (the proxy on its
                // own thread, many invocations at once) must not starve the telemetry queue.
                biased;
                Some(batch) = telemetry.recv() => {
                    self.drain_records(&mut records, &mut outputs);
                    self.telemetry_batch(batch, &mut outputs);
                }
                Some(record) = records.recv() => {
                    self.record(record, &mut outputs);
                    if let Some(gathering) = self.gathering {
                        tokio::time::sleep(gathering).await;
                        self.drain_records(&mut records, &mut outputs);
                    }
                }
                Some(command) = commands.recv() => match command {
                    Command::Invoke { event, reply } => {
                        let (request_id, deadline_ms) = (event.request_id.clone(), event.deadline_ms);
                        let now = SystemTime::now();
                        self.correlator
                            .push_into(Input::Invoke(event), now, &mut outputs);
                        self.releases.wait(request_id, deadline_ms, reply, now);
                    }
                    Command::TelemetryExpected(expected) => {
                        self.releases.set_telemetry_expected(expected);
                        self.correlator.set_telemetry_expected(expected);
                        self.correlator.close_due_into(SystemTime::now(), &mut outputs);
                    }
                    Command::Shutdown { deadline, reply } => {
                        let budget = deadline.saturating_duration_since(tokio::time::Instant::now());
                        self.shutdown(&mut records, &mut telemetry, budget).await;
                        let _ = reply.send(());
                        continue;
                    }
                },
                () = &mut timer, if armed.is_some() => {
                    armed = None;
                    self.correlator.close_due_into(SystemTime::now(), &mut outputs);
                }
                else => break,
            }
            let closed_any = self.enqueue(&mut outputs);
            self.release(closed_any).await;
        }
    }

    fn record(&mut self, record: ProxyRecord, outputs: &mut Vec<Output>) {
        let now = SystemTime::now();
        self.releases.proxy_record(now);
        log_record(&record);
        self.correlator
            .push_into(Input::Proxy(record), now, outputs);
    }

    /// Takes in every record queued now.
    fn drain_records(
        &mut self,
        records: &mut mpsc::Receiver<ProxyRecord>,
        outputs: &mut Vec<Output>,
    ) {
        while let Ok(record) = records.try_recv() {
            self.record(record, outputs);
        }
    }

    /// The events of one delivery, in order.
    fn telemetry_batch(&mut self, batch: Vec<TelemetryEvent>, outputs: &mut Vec<Output>) {
        for event in batch {
            self.telemetry(event, outputs);
        }
    }

    fn telemetry(&mut self, event: TelemetryEvent, outputs: &mut Vec<Output>) {
        if let Some(exporter) = self.exporter.as_mut() {
            match &event.body {
                TelemetryBody::InitStart { instance_id, .. } => {
                    if let Some(instance) = instance_id {
                        exporter.set_resource(spans::resource(&self.function, Some(instance)));
                    }
                    // The environment's log stream: where log records go to CloudWatch Logs.
                    exporter.set_log_stream(instance_id.as_deref());
                }
                // A SnapStart restore runs in another environment than the snapshot's init.
                TelemetryBody::RestoreStart {
                    instance_id: Some(instance),
                } => {
                    exporter.set_resource(spans::resource(&self.function, Some(instance)));
                    exporter.set_restored_log_stream(instance);
                }
                _ => {}
            }
        }
        self.correlator
            .push_into(Input::Telemetry(event), SystemTime::now(), outputs);
    }

    /// Builds the spans, log records and metric figures of `outputs` and queues them, leaving
    /// `outputs` empty; true when an invocation was closed.
    fn enqueue(&mut self, outputs: &mut Vec<Output>) -> bool {
        if outputs.is_empty() {
            // Most turns (a record, a command, an early timer) complete nothing.
            return false;
        }
        let closed_any = outputs.iter().any(|o| matches!(o, Output::Invocation(_)));
        if self.exporter.is_none() {
            // Export disabled: nothing to build.
            outputs.clear();
            return closed_any;
        }
        let now = SystemTime::now();
        let mut spans = Vec::new();
        let mut records = Vec::new();
        for output in outputs.drain(..) {
            match output {
                Output::Invocation(inv) => {
                    tracing::debug!(request_id = %inv.request_id, reason = ?inv.reason, "invocation closed");
                    self.signals.invocation(&inv);
                    let built = self.invocation_spans(&inv);
                    // Usually the only invocation closed: its list is queued as it is.
                    if spans.is_empty() {
                        spans = built;
                    } else {
                        spans.extend(built);
                    }
                }
                Output::Log(joined) => {
                    let sampled = joined
                        .invocation
                        .as_ref()
                        .is_some_and(|ids| self.sampling.was_recorded(&ids.request_id));
                    records.extend(self.signals.line(joined, sampled, &self.capture.rules, now));
                }
                Output::Report(joined) => {
                    let sampled = self.sampling.was_recorded(&joined.invocation.request_id);
                    records.extend(self.signals.report(&joined, sampled, now));
                }
            }
        }
        if let Some(exporter) = self.exporter.as_mut() {
            if !spans.is_empty() {
                exporter.enqueue(spans);
            }
            if !records.is_empty() {
                exporter.enqueue_logs(records);
            }
        }
        closed_any
    }

    /// The spans of `inv`, if the sampler records it and spans are exported. The sampler decides
    /// either way: its decision is the sampled flag of the invocation's log records.
    fn invocation_spans(&mut self, inv: &InvocationSummary) -> Vec<SpanData> {
        let recorded = self
            .sampling
            .records_invocation(&inv.request_id, &inv.parent);
        if !recorded || !self.exporter.as_ref().is_some_and(Exporter::traces_enabled) {
            return Vec::new();
        }
        let mut next_id = new_span_id;
        // Span building runs on observed, external data; should it ever panic, this invocation's
        // spans are lost, never the owner task (and every later invocation).
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            spans::invocation_spans(
                inv,
                &self.function,
                &self.capture,
                &self.propagators,
                &mut next_id,
            )
        }))
        .unwrap_or_else(|_| {
            tracing::error!(request_id = %inv.request_id, "span building failed; invocation skipped");
            Vec::new()
        })
    }

    /// Runs the flush that is due now, if any, and answers the waiters it releases.
    async fn release(&mut self, closed_any: bool) {
        let now = SystemTime::now();
        // The exporter is only looked at when a background flush may be due (see `Releases::due`).
        let due = {
            let exporter = self.exporter.as_ref();
            let backlog = || {
                exporter.map_or(Backlog::default(), |exporter| Backlog {
                    queued: exporter.queued(),
                    blocked_until: exporter.blocked_until(now),
                })
            };
            let correlator = &self.correlator;
            self.releases
                .due(now, closed_any, backlog, |id| correlator.is_open(id))
        };
        if let Some(flush) = due {
            let background = flush.is_background();
            flush
                .run(|budget, occasion| self.flush(budget, occasion))
                .await;
            if let (true, Some(exporter)) = (background, self.exporter.as_ref()) {
                let now = SystemTime::now();
                let backlog = Backlog {
                    queued: exporter.queued(),
                    blocked_until: exporter.blocked_until(now),
                };
                self.releases.after_background_flush(now, backlog);
            }
        }
    }

    /// Flushes every signal within `budget` on `occasion`, with a metric collection when one is
    /// due (always at SHUTDOWN). Failures are logged by the exporter, rate-limited; what was not
    /// sent stays queued.
    async fn flush(&mut self, budget: Duration, occasion: Occasion) {
        self.flush_signals(budget, occasion, false).await;
    }

    /// [`Owner::flush`], with a metric collection whatever the interval when `last`.
    async fn flush_signals(&mut self, budget: Duration, occasion: Occasion, last: bool) {
        let Some(exporter) = self.exporter.as_mut() else {
            return;
        };
        let metrics = self
            .signals
            .collect(exporter, &mut self.correlator, SystemTime::now(), last);
        if !metrics.is_empty() {
            exporter.enqueue_metrics(metrics);
        }
        if exporter.queued() == 0 {
            return;
        }
        if budget.is_zero() && occasion != Occasion::Shutdown {
            tracing::debug!(
                queued = exporter.queued(),
                "no time left before the deadline; kept for the next flush"
            );
            return;
        }
        let outcome = exporter.flush_on(budget, occasion).await;
        tracing::debug!(?outcome, "flushed");
        if occasion == Occasion::Shutdown && exporter.queued() > 0 {
            // Nothing comes after SHUTDOWN: what is still queued is lost, and says so once.
            tracing::warn!(
                spans = outcome.requeued,
                log_records = outcome.logs.requeued,
                metric_collections = outcome.metrics.requeued,
                error = outcome.error.as_deref().unwrap_or(""),
                "SHUTDOWN: the collector did not take everything before the deadline; the rest is lost"
            );
        }
    }

    /// SHUTDOWN: takes in what is still queued, closes everything open, answers every waiter and
    /// exports within what is left of `budget`.
    async fn shutdown(
        &mut self,
        records: &mut mpsc::Receiver<ProxyRecord>,
        telemetry: &mut BatchReceiver,
        budget: Duration,
    ) {
        let started = tokio::time::Instant::now();
        let mut outputs = Vec::new();
        self.drain_records(records, &mut outputs);
        while let Some(batch) = telemetry.try_recv() {
            self.telemetry_batch(batch, &mut outputs);
        }
        // The last invocation's report comes with the thaw that brings SHUTDOWN, racing it: wait
        // a little for it (its report record and metrics would be lost), within the budget.
        let report_deadline = started + SHUTDOWN_REPORT_WAIT.min(budget / 4);
        while self.correlator.report_awaited() {
            match tokio::time::timeout_at(report_deadline, telemetry.recv()).await {
                Ok(Some(batch)) => self.telemetry_batch(batch, &mut outputs),
                Ok(None) | Err(_) => break,
            }
        }
        outputs.extend(self.correlator.close_all());
        self.enqueue(&mut outputs);
        self.releases.release_all();
        let left = budget.saturating_sub(started.elapsed());
        self.flush_signals(left, Occasion::Shutdown, true).await;
    }
}

/// Records carry unredacted payload bytes: logged only when `LAMBDA_LENS_LOG` names their target.
fn log_record(record: &ProxyRecord) {
    if logging::records_requested() && tracing::enabled!(target: RECORD_TARGET, Level::DEBUG) {
        match serde_json::to_string(record) {
            Ok(json) => tracing::debug!(target: RECORD_TARGET, "{json}"),
            Err(e) => tracing::warn!(error = %e, "record could not be serialized"),
        }
    }
}
