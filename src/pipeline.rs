//! The owner task: the one task that owns all per-invocation state. It is fed by channels (proxy
//! records, telemetry events, lifecycle commands), runs the [`Correlator`], turns closed invocations
//! into spans and exports them — and tells the lifecycle loop when an invocation's spans are out, so
//! that `/extension/event/next` (after which the sandbox freezes) is called only then.

use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot};

use crate::correlate::{Correlator, Input, Output};
use crate::export::Exporter;
use crate::lifecycle::InvokeEvent;
use crate::recent::RecentMap;
use crate::record::{ProxyRecord, RequestId};
use crate::spans::{self, CaptureSettings, FunctionInfo};
use crate::telemetry::{TelemetryBody, TelemetryEvent};
use crate::trace_context::{new_span_id, Sampler};

/// Commands are few at a time (one per lifecycle event), so a small bound suffices.
const COMMAND_QUEUE_CAPACITY: usize = 64;
/// How long, without telemetry, to wait for the proxy's first event before deciding the runtime does
/// not use the proxy (the event passes the proxy right after INVOKE is released).
const FIRST_EVENT_WAIT: Duration = Duration::from_millis(200);
/// Longest wait for an invocation without a deadline (emulators send `deadlineMs: 0`).
const NO_DEADLINE_LIMIT: Duration = Duration::from_secs(900);
/// Unsampled invocations remembered, so their late reports are dropped too.
const MAX_REMEMBERED_UNSAMPLED: usize = 256;
/// Spans of invocations nobody waits for (Lambda Managed Instances send no INVOKE) are exported in
/// batches: once a full export request's worth is queued (fewer, larger batches hold the proxy up on
/// the shared thread less often: 128 measured a worse p99 than 512)...
const BACKGROUND_BATCH_SPANS: usize = crate::export::MAX_BATCH_SPANS;
/// ...or this long after the first of them closed. Such environments are not frozen between
/// invocations, and one export request per invocation would cost the function CPU at high rates.
const BACKGROUND_FLUSH_DELAY: Duration = Duration::from_millis(100);
/// Time kept free before the invocation's deadline: the function timeout also bounds extension work,
/// so a flush must never push an invocation past it.
const DEADLINE_MARGIN: Duration = Duration::from_millis(25);

enum Command {
    Invoke(InvokeEvent),
    Finish {
        request_id: RequestId,
        deadline_ms: u64,
        reply: oneshot::Sender<()>,
    },
    TelemetryExpected(bool),
    Shutdown {
        budget: Duration,
        reply: oneshot::Sender<()>,
    },
}

/// Handle to the owner task.
#[derive(Clone)]
pub struct Pipeline {
    commands: mpsc::Sender<Command>,
}

/// What the owner task needs besides its input queues.
pub struct PipelineSetup {
    /// The function's identity, for span attributes and the resource.
    pub function: FunctionInfo,
    /// Where spans go; `None` when export is disabled or could not be built.
    pub exporter: Option<Exporter>,
    /// Longest a flush may take.
    pub flush_timeout: Duration,
    /// Which invocations are recorded (`OTEL_TRACES_SAMPLER`).
    pub sampler: Sampler,
    /// Longest wait for `platform.runtimeDone` after a result.
    pub runtime_done_wait: Duration,
    /// Body capture and redaction.
    pub capture: CaptureSettings,
}

impl Pipeline {
    /// Spawns the owner task.
    pub fn spawn(
        records: mpsc::Receiver<ProxyRecord>,
        telemetry: mpsc::Receiver<TelemetryEvent>,
        setup: PipelineSetup,
    ) -> Self {
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE_CAPACITY);
        let owner = Owner {
            correlator: Correlator::new(setup.runtime_done_wait, Box::new(new_span_id)),
            function: setup.function,
            exporter: setup.exporter,
            flush_timeout: setup.flush_timeout,
            sampler: setup.sampler,
            capture: setup.capture,
            unsampled: RecentMap::new(MAX_REMEMBERED_UNSAMPLED),
            waiting: Vec::new(),
            telemetry_expected: true,
            proxy_seen: false,
            background_due: None,
        };
        tokio::spawn(owner.run(records, telemetry, command_rx));
        Self { commands }
    }

    /// Passes on an INVOKE event.
    pub async fn invoke(&self, event: InvokeEvent) {
        // The owner lives as long as the process; a failed send only happens at exit.
        let _ = self.commands.send(Command::Invoke(event)).await;
    }

    /// Says whether `platform.runtimeDone` will arrive (the telemetry subscription's outcome).
    pub async fn telemetry_expected(&self, expected: bool) {
        let _ = self
            .commands
            .send(Command::TelemetryExpected(expected))
            .await;
    }

    /// Returns once the invocation is complete and its spans were exported (or the export budget ran
    /// out: they stay queued for the next flush).
    pub async fn finish(&self, request_id: RequestId, deadline_ms: u64) {
        let (reply, done) = oneshot::channel();
        let command = Command::Finish {
            request_id,
            deadline_ms,
            reply,
        };
        if self.commands.send(command).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Closes whatever is open and exports everything queued within `budget`.
    pub async fn shutdown(&self, budget: Duration) {
        let (reply, done) = oneshot::channel();
        if self
            .commands
            .send(Command::Shutdown { budget, reply })
            .await
            .is_ok()
        {
            let _ = done.await;
        }
    }
}

struct Waiter {
    request_id: RequestId,
    deadline_ms: u64,
    /// When the lifecycle loop gets its answer at the latest, complete or not: it must be back in
    /// `/event/next` before the deadline (extension work counts against the function timeout).
    release_at: SystemTime,
    reply: oneshot::Sender<()>,
}

struct Owner {
    correlator: Correlator,
    function: FunctionInfo,
    exporter: Option<Exporter>,
    flush_timeout: Duration,
    sampler: Sampler,
    capture: CaptureSettings,
    /// Invocations the sampler dropped, so that their late reports are dropped too.
    unsampled: RecentMap<RequestId, ()>,
    waiting: Vec<Waiter>,
    /// The Telemetry API subscription succeeded.
    telemetry_expected: bool,
    /// The proxy has reported at least one record (the runtime goes through it).
    proxy_seen: bool,
    /// When spans nobody waits for are exported at the latest.
    background_due: Option<SystemTime>,
}

impl Owner {
    async fn run(
        mut self,
        mut records: mpsc::Receiver<ProxyRecord>,
        mut telemetry: mpsc::Receiver<TelemetryEvent>,
        mut commands: mpsc::Receiver<Command>,
    ) {
        // One timer for the whole loop, moved earlier when needed but left alone when a later check
        // would do: it then fires early once and is re-armed. Arming a fresh timer for every
        // invocation would wake the runtime's driver through its eventfd each time.
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        let mut armed: Option<tokio::time::Instant> = None;
        loop {
            let next = [
                self.correlator.next_check(),
                self.waiting.iter().map(|w| w.release_at).min(),
                self.background_due,
            ]
            .into_iter()
            .flatten()
            .min();
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
            let outputs = tokio::select! {
                // Proxy records first: a runtimeDone must not overtake the result it follows.
                biased;
                Some(record) = records.recv() => {
                    if !self.proxy_seen {
                        // The runtime does use the proxy: its invocations will complete.
                        self.proxy_seen = true;
                        for waiter in &mut self.waiting {
                            waiter.release_at = by_deadline(waiter.deadline_ms);
                        }
                    }
                    log_record(&record);
                    self.correlator.push(Input::Proxy(record), SystemTime::now())
                }
                Some(event) = telemetry.recv() => self.telemetry(event),
                Some(command) = commands.recv() => match command {
                    Command::Invoke(event) => self.correlator.push(Input::Invoke(event), SystemTime::now()),
                    Command::TelemetryExpected(expected) => {
                        self.telemetry_expected = expected;
                        self.correlator.set_telemetry_expected(expected);
                        self.correlator.close_due(SystemTime::now())
                    }
                    Command::Finish { request_id, deadline_ms, reply } => {
                        let release_at = self.release_time(deadline_ms);
                        self.waiting.push(Waiter { request_id, deadline_ms, release_at, reply });
                        Vec::new()
                    }
                    Command::Shutdown { budget, reply } => {
                        self.shutdown(&mut records, &mut telemetry, budget).await;
                        let _ = reply.send(());
                        continue;
                    }
                },
                () = &mut timer, if armed.is_some() => {
                    armed = None;
                    self.correlator.close_due(SystemTime::now())
                }
                else => break,
            };
            let closed_any = self.enqueue(outputs);
            self.release_waiters(closed_any).await;
        }
    }

    fn telemetry(&mut self, event: TelemetryEvent) -> Vec<Output> {
        if let TelemetryBody::InitStart {
            instance_id: Some(instance),
            ..
        } = &event.body
        {
            let resource = spans::resource(&self.function, Some(instance));
            if let Some(exporter) = self.exporter.as_mut() {
                exporter.set_resource(resource);
            }
        }
        self.correlator
            .push(Input::Telemetry(event), SystemTime::now())
    }

    /// Builds spans for `outputs` and queues them; true when an invocation was closed.
    fn enqueue(&mut self, outputs: Vec<Output>) -> bool {
        let mut closed_any = false;
        if self.exporter.is_none() {
            // Export disabled: nothing to build spans for.
            return outputs.iter().any(|o| matches!(o, Output::Invocation(_)));
        }
        let mut next_id = new_span_id;
        for output in outputs {
            let spans = match output {
                Output::Invocation(inv) => {
                    closed_any = true;
                    tracing::debug!(request_id = %inv.request_id, reason = ?inv.reason, "invocation closed");
                    if !self.sampler.should_sample(&inv.trace) {
                        self.unsampled.insert(inv.request_id.clone(), ());
                        continue;
                    }
                    // Span building runs on observed, external data; should it ever panic, this
                    // invocation's spans are lost, never the owner task (and every later invocation).
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        spans::invocation_spans(&inv, &self.function, &self.capture, &mut next_id)
                    })) {
                        Ok(spans) => spans,
                        Err(_) => {
                            tracing::error!(request_id = %inv.request_id, "span building failed; invocation skipped");
                            continue;
                        }
                    }
                }
                Output::LateReport(late) => {
                    if self.unsampled.contains_key(&late.report.body.request_id) {
                        continue;
                    }
                    vec![spans::late_report_span(&late, new_span_id())]
                }
            };
            if let Some(exporter) = self.exporter.as_mut() {
                exporter.enqueue(spans);
            }
        }
        closed_any
    }

    /// Flushes and answers every waiter whose invocation is closed. Invocations nobody waits for are
    /// flushed in batches ([`BACKGROUND_BATCH_SPANS`], [`BACKGROUND_FLUSH_DELAY`]).
    async fn release_waiters(&mut self, closed_any: bool) {
        let now = SystemTime::now();
        let ready: Vec<Waiter> = {
            let (ready, still): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
                .into_iter()
                .partition(|w| !self.correlator.is_open(&w.request_id) || w.release_at <= now);
            self.waiting = still;
            ready
        };
        let queued = self.exporter.as_ref().map_or(0, Exporter::queued);
        if closed_any && self.waiting.is_empty() && queued > 0 && self.background_due.is_none() {
            self.background_due = Some(now + BACKGROUND_FLUSH_DELAY);
        }
        let background = self
            .background_due
            .is_some_and(|due| due <= now || queued >= BACKGROUND_BATCH_SPANS);
        if ready.is_empty() && !background {
            return;
        }
        self.background_due = None;
        let budget = ready
            .iter()
            .map(|w| time_before_deadline(w.deadline_ms))
            .min()
            .unwrap_or(self.flush_timeout)
            .min(self.flush_timeout);
        self.flush(budget).await;
        for waiter in ready {
            let _ = waiter.reply.send(());
        }
    }

    /// When a `Finish` must be answered at the latest. At once when nothing could complete the
    /// invocation (no exporter; or no telemetry and a proxy the runtime has never used, e.g. an OS-only
    /// runtime without the wrapper); shortly after INVOKE while the proxy might still see its first
    /// event; otherwise just before the deadline.
    fn release_time(&self, deadline_ms: u64) -> SystemTime {
        let now = SystemTime::now();
        let by_deadline = by_deadline(deadline_ms);
        let cap = if self.exporter.is_none() {
            now
        } else if !self.telemetry_expected && !self.proxy_seen {
            now + FIRST_EVENT_WAIT
        } else {
            by_deadline
        };
        cap.min(by_deadline)
    }

    async fn flush(&mut self, budget: Duration) {
        let Some(exporter) = self.exporter.as_mut() else {
            return;
        };
        if exporter.queued() == 0 {
            return;
        }
        if budget.is_zero() {
            tracing::debug!(
                queued = exporter.queued(),
                "no time left before the deadline; spans kept for the next flush"
            );
            return;
        }
        let outcome = exporter.flush(budget).await;
        if let Some(error) = &outcome.error {
            tracing::warn!(
                %error,
                requeued = outcome.requeued,
                elapsed_ms = outcome.elapsed.as_millis() as u64,
                "span export failed; spans kept for the next flush"
            );
        }
    }

    async fn shutdown(
        &mut self,
        records: &mut mpsc::Receiver<ProxyRecord>,
        telemetry: &mut mpsc::Receiver<TelemetryEvent>,
        budget: Duration,
    ) {
        let started = tokio::time::Instant::now();
        let mut outputs = Vec::new();
        while let Ok(record) = records.try_recv() {
            log_record(&record);
            outputs.extend(
                self.correlator
                    .push(Input::Proxy(record), SystemTime::now()),
            );
        }
        while let Ok(event) = telemetry.try_recv() {
            outputs.extend(self.telemetry(event));
        }
        outputs.extend(self.correlator.close_all());
        self.enqueue(outputs);
        for waiter in self.waiting.drain(..) {
            let _ = waiter.reply.send(());
        }
        let left = budget.saturating_sub(started.elapsed());
        self.flush(left).await;
    }
}

/// The latest moment to be back in `/event/next` for an invocation due at `deadline_ms`.
fn by_deadline(deadline_ms: u64) -> SystemTime {
    let now = SystemTime::now();
    if deadline_ms == 0 {
        return now + NO_DEADLINE_LIMIT;
    }
    (SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms))
        .checked_sub(DEADLINE_MARGIN)
        .unwrap_or(now)
}

/// Time until `deadline_ms` less [`DEADLINE_MARGIN`]; no deadline (0) means no limit from it.
fn time_before_deadline(deadline_ms: u64) -> Duration {
    if deadline_ms == 0 {
        return Duration::MAX;
    }
    crate::lifecycle::time_until(deadline_ms).saturating_sub(DEADLINE_MARGIN)
}

/// Records carry unredacted payload bytes: logged only when `LAMBDA_LENS_LOG` names their target.
fn log_record(record: &ProxyRecord) {
    if crate::logging::records_requested()
        && tracing::enabled!(target: "lambda_lens::record", tracing::Level::DEBUG)
    {
        match serde_json::to_string(record) {
            Ok(json) => tracing::debug!(target: "lambda_lens::record", "{json}"),
            Err(e) => tracing::warn!(error = %e, "record could not be serialized"),
        }
    }
}
