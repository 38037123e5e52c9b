//! The public face of the crate: [`Sandbox`] (start, invoke, shutdown, observe), [`Invocation`] and
//! the outcomes tests assert on.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot, RwLock};
use tokio::task::JoinHandle;

use crate::config::SandboxConfig;
use crate::core::{
    Core, ExtensionNextCall, FunctionResponse, LifecycleEvent, PlatformError, ProcessExit,
};
use crate::error::SandboxError;
use crate::ids::{ExtensionId, RequestId};
use crate::lifecycle::{CycleSummary, EnvState, InvokeRequest};
use crate::model::{EventKind, InitPhase, ShutdownReason, Status};
use crate::process::signal_process;
use crate::trace::TraceMode;

/// One invocation request: payload plus the optional context headers Lambda forwards.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// Event payload bytes (JSON in practice).
    pub payload: Bytes,
    /// `X-Amzn-Trace-Id` value (see [`TraceMode`] for generated shapes).
    pub trace_header: Option<String>,
    /// Client context JSON (already decoded from the caller's base64).
    pub client_context: Option<String>,
    /// Cognito identity JSON.
    pub cognito_identity: Option<String>,
    /// Tenant id (`X-Amz-Tenant-Id`).
    pub tenant_id: Option<String>,
}

impl Invocation {
    /// An invocation with raw payload bytes.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Self {
            payload: payload.into(),
            ..Self::default()
        }
    }

    /// An invocation whose payload is `event` serialized as JSON.
    pub fn json(event: &Value) -> Self {
        Self::new(event.to_string())
    }

    /// Attaches a freshly generated trace header of the given shape.
    pub fn with_trace(mut self, mode: TraceMode) -> Self {
        self.trace_header = mode.header();
        self
    }

    /// Attaches an explicit trace header.
    pub fn with_trace_header(mut self, header: impl Into<String>) -> Self {
        self.trace_header = Some(header.into());
        self
    }

    /// Attaches a (decoded) client context JSON document.
    pub fn with_client_context(mut self, json: impl Into<String>) -> Self {
        self.client_context = Some(json.into());
        self
    }

    /// Attaches a tenant id.
    pub fn with_tenant_id(mut self, tenant: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant.into());
        self
    }
}

/// Everything observable about one finished invocation.
#[derive(Debug, Clone)]
pub struct InvokeOutcome {
    /// The invocation's request id.
    pub request_id: RequestId,
    /// Platform status (`platform.report` status).
    pub status: Status,
    /// Platform `errorType` (e.g. `Sandbox.Timeout`, `Runtime.ExitError`, `Runtime.Unknown`).
    pub error_type: Option<String>,
    /// `X-Amz-Function-Error` the caller saw (`Unhandled`), if the answer is an error.
    pub function_error: Option<String>,
    /// HTTP status the invoke endpoint answers with.
    pub http_status: StatusCode,
    /// Response headers the invoke endpoint sends.
    pub headers: HeaderMap,
    /// Complete response body.
    pub body: Bytes,
    /// Trailers of a streamed response.
    pub trailers: Option<HeaderMap>,
    /// The runtime streamed its response.
    pub streamed: bool,
    /// From submission until the response body was complete.
    pub response_time: Duration,
    /// From submission until the invocation finished (runtime and extensions back in `/next`).
    pub duration: Duration,
}

impl InvokeOutcome {
    /// The body parsed as JSON (`Value::Null` if it is not JSON).
    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as UTF-8 text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How a shutdown went.
#[derive(Debug, Clone)]
pub struct ShutdownOutcome {
    /// The SHUTDOWN reason sent.
    pub reason: ShutdownReason,
    /// How each runtime and extension process of the instance ended.
    pub processes: Vec<ProcessExit>,
}

impl ShutdownOutcome {
    /// The exit record of the named process (`runtime` or an extension file name).
    pub fn process(&self, name: &str) -> Option<&ProcessExit> {
        self.processes.iter().find(|p| p.name == name)
    }
}

/// A registered extension, as the Extensions API knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredExtension {
    /// `Lambda-Extension-Name`.
    pub name: String,
    /// `Lambda-Extension-Identifier`.
    pub id: ExtensionId,
    /// Registered events.
    pub events: Vec<EventKind>,
}

/// An invocation accepted by the dispatcher: its id, the function's answer, and the cycle's end.
pub(crate) struct Pending {
    pub request_id: RequestId,
    pub response: oneshot::Receiver<FunctionResponse>,
    pub done: JoinHandle<CycleSummary>,
}

/// State shared by the library API and the HTTP invoke endpoint.
pub(crate) struct Inner {
    pub core: Arc<Core>,
    /// The invoke lock: on-demand, one invocation (or shutdown) at a time, like one Lambda
    /// environment; on Managed Instances invocations share it and shutdown or re-init take it whole.
    env: Arc<RwLock<EnvState>>,
}

impl Inner {
    /// Queues an invocation; it runs when the environment is free.
    pub fn submit(&self, inv: Invocation) -> Pending {
        let request_id = RequestId::random();
        let (tx, rx) = oneshot::channel();
        let req = InvokeRequest {
            request_id: request_id.clone(),
            payload: inv.payload,
            trace_header: inv.trace_header,
            client_context: inv.client_context,
            cognito_identity: inv.cognito_identity,
            tenant_id: inv.tenant_id,
        };
        let (core, env) = (self.core.clone(), self.env.clone());
        let done = tokio::spawn(async move {
            if core.config.initialization.is_managed() {
                return run_managed(core, env, req, tx).await;
            }
            let mut env = env.write_owned().await;
            core.invoke_cycle(&mut env, req, tx).await
        });
        Pending {
            request_id,
            response: rx,
            done,
        }
    }
}

/// One Managed Instances invocation: alongside the others under the shared lock, after preparing the
/// environment under the exclusive one when it needs it.
async fn run_managed(
    core: Arc<Core>,
    env: Arc<RwLock<EnvState>>,
    req: InvokeRequest,
    tx: oneshot::Sender<FunctionResponse>,
) -> CycleSummary {
    loop {
        let shared = env.clone().read_owned().await;
        if !core.managed_needs_preparing(&shared) {
            let summary = core.managed_invoke(req, tx).await;
            drop(shared);
            return summary;
        }
        drop(shared);
        let mut exclusive = env.write().await;
        if let Some(err) = core.prepare_managed(&mut exclusive).await {
            let _ = tx.send(FunctionResponse::platform_error(&err));
            return CycleSummary {
                status: err.status,
                error_type: Some(err.error_type),
            };
        }
    }
}

/// The headers the invoke endpoint sends for `response`.
pub(crate) fn response_headers(request_id: &RequestId, response: &FunctionResponse) -> HeaderMap {
    let mut h = HeaderMap::new();
    let ct = response
        .content_type
        .as_deref()
        .unwrap_or("application/json");
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_str(ct).unwrap_or(HeaderValue::from_static("application/json")),
    );
    h.insert(
        "x-amzn-requestid",
        HeaderValue::from_str(request_id.as_str()).expect("uuids are valid header values"),
    );
    if let Some(trailer) = response
        .trailer
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        h.insert(http::header::TRAILER, trailer);
    }
    if response.error_type.is_some() {
        h.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    h
}

/// A running local Lambda execution environment.
///
/// ```no_run
/// # async fn demo() -> Result<(), lambda_sandbox::SandboxError> {
/// use lambda_sandbox::{Invocation, Sandbox, SandboxConfig, ShutdownReason};
/// let config = SandboxConfig::new("examples/python-function", vec![".venv/bin/python".into(), "-m".into(), "awslambdaric".into(), "app.handler".into()]);
/// let sandbox = Sandbox::start(config).await?;
/// let outcome = sandbox.invoke(Invocation::json(&serde_json::json!({"echo": true}))).await;
/// println!("{} {}", outcome.status, outcome.body_text());
/// sandbox.shutdown(ShutdownReason::Spindown).await;
/// # Ok(()) }
/// ```
pub struct Sandbox {
    inner: Arc<Inner>,
    invoke_addr: Option<SocketAddr>,
    servers: Vec<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds the API listener (and the invoke endpoint), then runs the init phase.
    ///
    /// A failed init is not an error here: like Lambda, it is served to the first invocation.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        if config.runtime_command.is_empty() {
            return Err(SandboxError::Config(
                "the runtime command is empty".to_owned(),
            ));
        }
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| SandboxError::Bind { addr, source })
        };
        let api = bind(config.api_listen).await?;
        let api_addr = api.local_addr().map_err(|source| SandboxError::Bind {
            addr: config.api_listen,
            source,
        })?;
        let invoke_listener = match config.invoke_listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let core = Core::new(config, api_addr);
        let inner = Arc::new(Inner {
            core: core.clone(),
            env: Arc::new(RwLock::new(EnvState::default())),
        });
        let mut servers = vec![tokio::spawn(crate::body::serve(api, move |req| {
            crate::api::handle(core.clone(), req)
        }))];
        let mut invoke_addr = None;
        if let Some(listener) = invoke_listener {
            invoke_addr = listener.local_addr().ok();
            let inner = inner.clone();
            servers.push(tokio::spawn(crate::body::serve(listener, move |req| {
                crate::invoke_http::handle(inner.clone(), req)
            })));
        }
        {
            let mut env = inner.env.write().await;
            if let Err(err) = inner.core.init_cold_start(&mut env, InitPhase::Init).await {
                inner.core.stop(&mut env, ShutdownReason::Failure).await;
                env.pending_init_error = Some(err);
                env.needs_init = Some(InitPhase::Invoke);
            }
        }
        Ok(Sandbox {
            inner,
            invoke_addr,
            servers,
        })
    }

    /// The Runtime/Extensions/Telemetry API address (`AWS_LAMBDA_RUNTIME_API`).
    pub fn runtime_api_addr(&self) -> SocketAddr {
        self.inner.core.api_addr
    }

    /// Address of the RIE-compatible invoke endpoint, if one is served.
    pub fn invoke_addr(&self) -> Option<SocketAddr> {
        self.invoke_addr
    }

    /// Full URL of `POST /2015-03-31/functions/function/invocations`, if the endpoint is served.
    pub fn invoke_url(&self) -> Option<String> {
        self.invoke_addr
            .map(|a| format!("http://{a}/2015-03-31/functions/function/invocations"))
    }

    /// The configuration this sandbox runs with.
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.core.config
    }

    /// Invokes the function and waits until the invocation is complete: response received, runtime
    /// and INVOKE-subscribed extensions back in `/next`, `platform.report` emitted, sandbox frozen
    /// (on Managed Instances: response received and `platform.report` emitted, other invocations
    /// running on).
    pub async fn invoke(&self, invocation: Invocation) -> InvokeOutcome {
        let submitted = Instant::now();
        let pending = self.inner.submit(invocation);
        let response = pending.response.await.unwrap_or_else(|_| {
            FunctionResponse::platform_error(&PlatformError::new(
                "Sandbox.Failure",
                Status::Failure,
                "The invocation was abandoned",
            ))
        });
        let headers = response_headers(&pending.request_id, &response);
        let (function_error, streamed) = (
            headers
                .get("x-amz-function-error")
                .map(|v| v.to_str().unwrap_or_default().to_owned()),
            response.streaming,
        );
        let mut body = BytesMut::new();
        let mut trailers = None;
        let mut frames = response.body;
        while let Some(frame) = frames.recv().await {
            match frame.into_data() {
                Ok(data) => body.extend_from_slice(&data),
                Err(frame) => trailers = frame.into_trailers().ok(),
            }
        }
        let response_time = submitted.elapsed();
        let summary = pending
            .done
            .await
            .expect("the invoke cycle task does not panic");
        InvokeOutcome {
            request_id: pending.request_id,
            status: summary.status,
            error_type: summary.error_type,
            function_error,
            http_status: StatusCode::OK,
            headers,
            body: body.freeze(),
            trailers,
            streamed,
            response_time,
            duration: submitted.elapsed(),
        }
    }

    /// Shuts the environment down: SIGTERM/SIGKILL the runtime, SHUTDOWN to extensions with a 2 s
    /// budget, flush telemetry, SIGKILL leftovers. A later invocation starts a fresh environment.
    pub async fn shutdown(&self, reason: ShutdownReason) -> ShutdownOutcome {
        let mut env = self.inner.env.write().await;
        let processes = self.inner.core.stop(&mut env, reason).await;
        env.pending_init_error = None;
        env.needs_init = Some(InitPhase::Init);
        ShutdownOutcome { reason, processes }
    }

    /// Every telemetry event emitted so far, in order, as `{time, type, record}` (newest schema).
    pub fn telemetry_emitted(&self) -> Vec<Value> {
        self.inner.core.hub.emitted()
    }

    /// The extensions subscribed to the Telemetry API now.
    pub fn telemetry_subscribers(&self) -> Vec<ExtensionId> {
        self.inner.core.hub.subscribers()
    }

    /// A receiver of lifecycle moments (init, invoke, extension `/next`, freeze, shutdown).
    pub fn subscribe_lifecycle(&self) -> broadcast::Receiver<LifecycleEvent> {
        self.inner.core.lifecycle.subscribe()
    }

    /// Runs `hook` whenever an extension calls `/extension/event/next` after an INVOKE, while that
    /// call is held: the sandbox neither counts the extension as done nor freezes until it returns.
    pub fn set_extension_next_hook<F, Fut>(&self, hook: F)
    where
        F: Fn(ExtensionNextCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hook: crate::core::ExtensionNextHook = Arc::new(move |call| Box::pin(hook(call)));
        *self
            .inner
            .core
            .next_hook
            .lock()
            .expect("hook lock poisoned") = Some(hook);
    }

    /// Removes the extension-next hook.
    pub fn clear_extension_next_hook(&self) {
        *self
            .inner
            .core
            .next_hook
            .lock()
            .expect("hook lock poisoned") = None;
    }

    /// How every runtime/extension process that ended so far ended, in order.
    pub fn process_exits(&self) -> Vec<ProcessExit> {
        self.inner.core.read(|st| st.exits.clone())
    }

    /// Extensions registered in the current environment instance.
    pub fn extensions(&self) -> Vec<RegisteredExtension> {
        self.inner.core.read(|st| {
            st.extensions
                .iter()
                .map(|e| RegisteredExtension {
                    name: e.name.clone(),
                    id: e.id.clone(),
                    events: e.events.clone(),
                })
                .collect()
        })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
        // Never leak runtimes or extensions past the sandbox (tests create many).
        let core = &self.inner.core;
        let live: Vec<u32> = core.read(|st| {
            st.processes
                .iter()
                .filter(|p| !p.exited)
                .map(|p| p.pid)
                .collect()
        });
        for pid in live {
            signal_process(core, pid, libc::SIGKILL);
        }
    }
}
