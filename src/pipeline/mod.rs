//! The owner task: the one task that owns all per-invocation state. It is fed by channels (proxy
//! records, telemetry events, lifecycle commands), runs the [`Correlator`](crate::correlate::Correlator),
//! turns closed invocations into spans and exports them — and tells the lifecycle loop when an
//! invocation's spans are out, so that `/extension/event/next` (after which the sandbox freezes) is
//! called only then.
//!
//! [`Pipeline`] is the lifecycle loop's handle; the task itself is in `owner` (I/O: queues, timer,
//! export). Where it runs is [`OwnerPlacement`]'s choice: on the main thread's runtime, or on a thread
//! of its own so that span building, encoding and export never hold up the proxy's exchanges. Its
//! decisions are pure, with time passed in: `release` (when a waiting lifecycle loop is answered,
//! when spans are flushed and within which budget), `sampling` (which invocations become spans, and
//! so the sampled flag of their log records) and `signals` (what the metrics and log records get,
//! and when metrics are collected).

mod owner;
mod release;
mod sampling;
mod signals;

use std::io;
use std::thread;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use self::owner::Owner;
use crate::export::Exporter;
use crate::lifecycle::InvokeEvent;
use crate::record::ProxyRecord;
use crate::settings::SignalSettings;
use crate::spans::{CaptureSettings, FunctionInfo};
use crate::telemetry::BatchReceiver;
use crate::trace_context::{Propagators, Sampler};

/// Commands are few at a time (one per lifecycle event), so a small bound suffices.
const COMMAND_QUEUE_CAPACITY: usize = 64;

/// Where the owner task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerPlacement {
    /// On the caller's runtime. With INVOKE events an invocation's export runs after its response
    /// and before `/extension/event/next`, while the runtime waits for its next event, so it cannot
    /// delay an exchange; sharing the thread saves the wake-ups of two threads handing over every
    /// record and command (about 15 system calls per invocation, measured in
    /// `benches/invocation_cpu.rs`).
    MainThread,
    /// On a thread of its own with its own single-threaded runtime: without INVOKE events (Lambda
    /// Managed Instances) exports run while invocations pass, and must not stall the proxy.
    OwnThread,
}

/// The owner thread's name, as seen in `/proc/<pid>/task/*/comm` and panics.
const OWNER_THREAD: &str = "lens-owner";

/// What the lifecycle loop asks of the owner task.
enum Command {
    /// An INVOKE event, and the lifecycle loop waiting for its spans: one command, so that the
    /// owner takes both in one turn.
    Invoke {
        event: InvokeEvent,
        reply: oneshot::Sender<()>,
    },
    TelemetryExpected(bool),
    Shutdown {
        /// The budget's end, fixed when SHUTDOWN came: an owner still busy with a flush then has
        /// only what is left of it.
        deadline: tokio::time::Instant,
        reply: oneshot::Sender<()>,
    },
}

/// The end of an invocation's wait for its spans, from [`Pipeline::invoke`].
#[derive(Debug)]
pub struct InvocationExported(oneshot::Receiver<()>);

impl InvocationExported {
    /// Returns once the invocation is complete and its spans were exported (or the export budget
    /// ran out: they stay queued for the next flush).
    pub async fn wait(self) {
        let _ = self.0.await;
    }
}

/// Handle to the owner task.
#[derive(Debug, Clone)]
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
    /// `OTEL_PROPAGATORS`: which context of a batch record its link follows.
    pub propagators: Propagators,
    /// Metrics' temporality and interval, log records' bounds.
    pub signals: SignalSettings,
}

impl Pipeline {
    /// Starts the owner task where `placement` says. `setup` runs there first, so that what it
    /// builds (the exporter's connections and background tasks) belongs to that runtime. Fails only
    /// when its own thread cannot start.
    pub fn spawn(
        records: mpsc::Receiver<ProxyRecord>,
        telemetry: BatchReceiver,
        placement: OwnerPlacement,
        setup: impl FnOnce() -> PipelineSetup + Send + 'static,
    ) -> Result<Self, io::Error> {
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE_CAPACITY);
        if placement == OwnerPlacement::MainThread {
            tokio::spawn(Owner::new(setup(), None).run(records, telemetry, command_rx));
            return Ok(Self { commands });
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        thread::Builder::new()
            .name(OWNER_THREAD.to_owned())
            .spawn(move || {
                let owner = {
                    let _entered = runtime.enter();
                    Owner::new(setup(), Some(owner::BACKGROUND_RECORD_GATHERING))
                };
                runtime.block_on(owner.run(records, telemetry, command_rx));
            })?;
        Ok(Self { commands })
    }

    /// Passes on an INVOKE event; what it returns completes once the invocation is complete and
    /// its spans were exported (or the export budget ran out: they stay queued for the next flush).
    pub async fn invoke(&self, event: InvokeEvent) -> InvocationExported {
        let (reply, done) = oneshot::channel();
        // The owner lives as long as the process; a failed send only happens at exit, and drops
        // `reply`: the wait then ends at once.
        let _ = self.commands.send(Command::Invoke { event, reply }).await;
        InvocationExported(done)
    }

    /// Says whether `platform.runtimeDone` will arrive (the telemetry subscription's outcome).
    pub async fn telemetry_expected(&self, expected: bool) {
        let _ = self
            .commands
            .send(Command::TelemetryExpected(expected))
            .await;
    }

    /// Closes whatever is open and exports everything queued within `budget`, counted from now.
    pub async fn shutdown(&self, budget: Duration) {
        let deadline = tokio::time::Instant::now() + budget;
        let (reply, done) = oneshot::channel();
        if self
            .commands
            .send(Command::Shutdown { deadline, reply })
            .await
            .is_ok()
        {
            let _ = done.await;
        }
    }
}
