//! Shared sandbox state: the runtime and extension state machines, the current invocation, the
//! processes, and the change notifications the lifecycle waits on.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Frame;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::clock::Stamp;
use crate::config::SandboxConfig;
use crate::ids::{ExtensionId, RequestId};
use crate::model::{EventKind, InitPhase, ShutdownReason, Status};
use crate::telemetry::TelemetryHub;

/// A moment in the environment's life, broadcast to [`crate::Sandbox::subscribe_lifecycle`] receivers.
#[derive(Debug, Clone, PartialEq)]
pub enum LifecycleEvent {
    /// Init began (`platform.initStart` was emitted).
    InitStarted {
        /// `init`, or `invoke` for a re-init after a reset.
        phase: InitPhase,
    },
    /// An extension registered.
    ExtensionRegistered {
        /// Registered name.
        name: String,
        /// Its new identifier.
        id: ExtensionId,
        /// Events it registered for.
        events: Vec<EventKind>,
    },
    /// Init finished (`platform.initReport` was emitted).
    InitFinished {
        /// Init status.
        status: Status,
    },
    /// The invoke was handed to extensions and the runtime.
    InvokeStarted {
        /// The invocation.
        request_id: RequestId,
    },
    /// The runtime called `/next` after finishing the invocation (`platform.runtimeDone`).
    RuntimeDone {
        /// The invocation.
        request_id: RequestId,
    },
    /// An extension called `/extension/event/next` after handling the INVOKE of `request_id`.
    ExtensionNext {
        /// Extension name.
        name: String,
        /// The invocation it finished.
        request_id: RequestId,
    },
    /// Everything is back in `/next`: the sandbox froze (`platform.report` is held until the thaw).
    Frozen {
        /// The invocation that just completed.
        request_id: RequestId,
    },
    /// Thawed for an invocation or shutdown.
    Thawed,
    /// SnapStart: init is done and every process is frozen in the snapshot.
    Snapshotted,
    /// SnapStart: the restore finished (`platform.restoreReport` was emitted).
    Restored {
        /// Restore status.
        status: Status,
    },
    /// Shutdown (or a reset) began.
    ShutdownStarted {
        /// SHUTDOWN reason.
        reason: ShutdownReason,
    },
    /// Shutdown (or a reset) finished; every process is gone.
    ShutdownFinished {
        /// SHUTDOWN reason.
        reason: ShutdownReason,
    },
}

/// What the [`ExtensionNextHook`] learns about an extension's `/event/next` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionNextCall {
    /// Extension name.
    pub name: String,
    /// Extension identifier.
    pub id: ExtensionId,
    /// The invocation whose INVOKE event the extension just finished handling.
    pub request_id: RequestId,
}

/// Async callback run while an extension's post-invoke `/extension/event/next` is held — before the
/// sandbox counts the extension as done and before it freezes.
pub type ExtensionNextHook =
    Arc<dyn Fn(ExtensionNextCall) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Which kind of process a [`ProcessExit`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessRole {
    /// The runtime (possibly launched through `AWS_LAMBDA_EXEC_WRAPPER`).
    Runtime,
    /// An external extension from `<opt>/extensions`.
    Extension,
}

/// How one runtime or extension process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessExit {
    /// `runtime`, or the extension's file name.
    pub name: String,
    /// Runtime or extension.
    pub role: ProcessRole,
    /// Process id.
    pub pid: u32,
    /// Exit code when it exited by itself.
    pub code: Option<i32>,
    /// Terminating signal, if any.
    pub signal: Option<i32>,
    /// The sandbox sent it SIGTERM.
    pub sent_sigterm: bool,
    /// The sandbox sent it SIGKILL (including OOM kills).
    pub sent_sigkill: bool,
    /// Time from the start of the shutdown/reset to the exit (`None`: it exited outside a shutdown).
    pub after_shutdown_began: Option<Duration>,
}

impl ProcessExit {
    /// Exited by itself with status 0 and was never killed.
    pub fn exited_cleanly(&self) -> bool {
        self.code == Some(0) && !self.sent_sigkill
    }
}

/// A platform-level failure: its `errorType`, the status it maps to and a human message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlatformError {
    pub error_type: String,
    pub status: Status,
    pub message: String,
    /// Body served to the caller (init errors carry the runtime's own error document).
    pub body: Option<Bytes>,
}

impl PlatformError {
    pub fn new(error_type: &str, status: Status, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.to_owned(),
            status,
            message: message.into(),
            body: None,
        }
    }
}

/// The runtime's position in the Runtime API state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuntimePhase {
    /// Not launched in this environment instance.
    Absent,
    /// Launched, has not called `/next` yet.
    Started,
    /// Blocked in `/next`.
    Ready,
    /// Has an invocation, sent nothing yet.
    Invoked,
    /// Streaming its response body.
    Responding,
    /// Sent `/response` or `/error`; its next call should be `/next`.
    Responded,
}

/// Everything `/runtime/invocation/next` returns.
#[derive(Debug, Clone)]
pub(crate) struct NextEvent {
    pub request_id: RequestId,
    pub deadline_ms: u64,
    pub function_arn: String,
    pub trace_header: Option<String>,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub tenant_id: Option<String>,
    pub payload: Bytes,
}

/// The start of the function's answer, handed from the Runtime API to the invoke caller.
pub(crate) struct FunctionResponse {
    /// `Some(error type)` when this is an error document rather than a function result.
    pub error_type: Option<String>,
    pub content_type: Option<String>,
    pub streaming: bool,
    /// The runtime's `Trailer` declaration, passed on so the trailers can follow the streamed body.
    pub trailer: Option<String>,
    pub body: mpsc::Receiver<Frame<Bytes>>,
}

impl FunctionResponse {
    /// A complete, buffered response.
    pub fn full(error_type: Option<String>, content_type: Option<String>, body: Bytes) -> Self {
        let (tx, rx) = mpsc::channel(1);
        tx.try_send(Frame::data(body))
            .expect("a fresh channel has room for one frame");
        Self {
            error_type,
            content_type,
            streaming: false,
            trailer: None,
            body: rx,
        }
    }

    /// An error document `{"errorMessage","errorType"}` for a platform failure.
    pub fn platform_error(err: &PlatformError) -> Self {
        let body = err.body.clone().unwrap_or_else(|| {
            Bytes::from(
                serde_json::json!({"errorMessage": err.message, "errorType": err.error_type})
                    .to_string(),
            )
        });
        Self::full(
            Some(err.error_type.clone()),
            Some("application/json".to_owned()),
            body,
        )
    }
}

/// An invocation in progress (one at a time on-demand, several on Managed Instances).
pub(crate) struct InvokeSlot {
    pub request_id: RequestId,
    pub response_tx: Option<oneshot::Sender<FunctionResponse>>,
    pub first_byte: Option<Stamp>,
    pub response_end: Option<Stamp>,
    pub runtime_done: Option<Stamp>,
    pub produced_bytes: u64,
    /// `Some(error type)` after `/error` (or an oversized response).
    pub function_error: Option<String>,
}

/// The extension's position in the Extensions API state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExtensionPhase {
    /// Registered, has not called `/event/next` yet (or is running its hook).
    Registered,
    /// Blocked in `/event/next`.
    Waiting,
    /// Received an event and is processing it.
    Busy,
    /// Reported `/init/error` or `/exit/error`; no further calls succeed.
    Errored,
}

pub(crate) struct ExtensionSlot {
    pub id: ExtensionId,
    pub name: String,
    pub events: Vec<EventKind>,
    pub phase: ExtensionPhase,
    pub waiter: Option<oneshot::Sender<Value>>,
    pub queued: Option<Value>,
    /// The INVOKE it is processing; taken when it comes back to `/event/next`.
    pub pending_invoke: Option<RequestId>,
}

impl ExtensionSlot {
    /// Hands `event` to the extension now if it waits in `/event/next`, else queues it.
    pub fn deliver(&mut self, event: Value) {
        match self.waiter.take() {
            Some(tx) if !tx.is_closed() => {
                self.phase = ExtensionPhase::Busy;
                if let Err(event) = tx.send(event) {
                    self.queued = Some(event);
                }
            }
            _ => self.queued = Some(event),
        }
    }
}

pub(crate) struct ProcessSlot {
    pub pid: u32,
    pub name: String,
    pub role: ProcessRole,
    pub sent_sigterm: bool,
    pub sent_sigkill: bool,
    pub exited: bool,
}

/// Mutable state of the current environment instance.
pub(crate) struct State {
    /// Environment instance counter; bumps at every (re-)init so late callbacks can be ignored.
    pub epoch: u64,
    pub registration_open: bool,
    pub subscription_open: bool,
    /// File names launched from `<opt>/extensions` in this instance.
    pub extension_files: Vec<String>,
    pub extensions: Vec<ExtensionSlot>,
    /// The runtime's position; on Managed Instances only `Started` or `Ready`, since state is kept
    /// per invocation there.
    pub runtime: RuntimePhase,
    /// Runtime `/next` calls waiting for an event, oldest first (at most one on-demand).
    pub runtime_waiters: VecDeque<oneshot::Sender<NextEvent>>,
    /// Invocations in progress (at most one on-demand).
    pub invokes: Vec<InvokeSlot>,
    /// `/runtime/init/error` or `/extension/init/error` received during init.
    pub init_error: Option<PlatformError>,
    /// A crash (runtime exit, OOM kill, extension crash or exit error) not yet handled.
    pub failure: Option<PlatformError>,
    /// Shutdown/reset in progress: process exits are expected.
    pub stopping: Option<Instant>,
    pub processes: Vec<ProcessSlot>,
    pub exits: Vec<ProcessExit>,
    /// Current `instanceId` / log stream name.
    pub instance_id: String,
    /// `runtimeVersionArn` of this instance's `platform.initStart`, repeated by `restoreStart`.
    pub runtime_version_arn: String,
    /// SnapStart: the runtime's `/runtime/restore/next` call, held until the restore.
    pub restore_waiter: Option<oneshot::Sender<()>>,
    /// SnapStart: `/runtime/restore/error` received after the restore.
    pub restore_error: Option<PlatformError>,
}

impl State {
    fn new() -> Self {
        Self {
            epoch: 0,
            registration_open: false,
            subscription_open: false,
            extension_files: Vec::new(),
            extensions: Vec::new(),
            runtime: RuntimePhase::Absent,
            runtime_waiters: VecDeque::new(),
            invokes: Vec::new(),
            init_error: None,
            failure: None,
            stopping: None,
            processes: Vec::new(),
            exits: Vec::new(),
            instance_id: String::new(),
            runtime_version_arn: String::new(),
            restore_waiter: None,
            restore_error: None,
        }
    }

    /// The invocation `id`, if it is in progress.
    pub fn invoke_mut(&mut self, id: &RequestId) -> Option<&mut InvokeSlot> {
        self.invokes.iter_mut().find(|i| i.request_id == *id)
    }

    /// Hands `next` to the oldest `/next` call still connected; gives it back when none waits.
    pub fn hand_next(&mut self, mut next: NextEvent) -> Option<NextEvent> {
        while let Some(waiter) = self.runtime_waiters.pop_front() {
            match waiter.send(next) {
                Ok(()) => return None,
                // That runtime connection went away; try the next one.
                Err(back) => next = back,
            }
        }
        Some(next)
    }

    /// Some `/next` call is still connected and waiting.
    pub fn runtime_waiting(&self) -> bool {
        self.runtime_waiters.iter().any(|w| !w.is_closed())
    }

    pub fn extension_mut(&mut self, id: &str) -> Option<&mut ExtensionSlot> {
        self.extensions.iter_mut().find(|e| e.id == *id)
    }

    pub fn live_processes(&self, role: ProcessRole) -> impl Iterator<Item = &ProcessSlot> {
        self.processes
            .iter()
            .filter(move |p| p.role == role && !p.exited)
    }
}

/// The sandbox's shared core: configuration, state, telemetry and notification channels.
pub(crate) struct Core {
    pub config: SandboxConfig,
    pub api_addr: SocketAddr,
    state: Mutex<State>,
    version: watch::Sender<u64>,
    pub hub: Arc<TelemetryHub>,
    pub lifecycle: broadcast::Sender<LifecycleEvent>,
    pub next_hook: Mutex<Option<ExtensionNextHook>>,
    /// Peak RSS of the runtime process group since the last init, in bytes.
    pub peak_rss: AtomicU64,
}

impl Core {
    pub fn new(config: SandboxConfig, api_addr: SocketAddr) -> Arc<Self> {
        Arc::new(Self {
            config,
            api_addr,
            state: Mutex::new(State::new()),
            version: watch::channel(0).0,
            hub: TelemetryHub::new(),
            lifecycle: broadcast::channel(1024).0,
            next_hook: Mutex::new(None),
            peak_rss: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("sandbox state lock poisoned by a panicking thread")
    }

    /// Runs `f` on the state and wakes everything waiting for a state change.
    pub fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.lock());
        self.version.send_modify(|v| *v = v.wrapping_add(1));
        r
    }

    /// Reads the state without signalling a change.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    /// Waits until `check` returns `Some`, re-checking after every state change; `None` at `deadline`.
    pub async fn wait_for<R>(
        &self,
        deadline: Option<Instant>,
        mut check: impl FnMut(&mut State) -> Option<R>,
    ) -> Option<R> {
        let mut rx = self.version.subscribe();
        loop {
            rx.borrow_and_update();
            if let Some(r) = check(&mut self.lock()) {
                return Some(r);
            }
            match deadline {
                Some(at) => {
                    tokio::select! {
                        _ = rx.changed() => {}
                        _ = tokio::time::sleep_until(at.into()) => return None,
                    }
                }
                None => {
                    let _ = rx.changed().await;
                }
            }
        }
    }

    pub fn announce(&self, event: LifecycleEvent) {
        // Nobody listening is fine: the channel is an optional observation point.
        let _ = self.lifecycle.send(event);
    }

    pub fn peak_rss_mb(&self) -> u64 {
        self.peak_rss.load(Ordering::Relaxed).div_ceil(1024 * 1024)
    }
}
