//! Test support: an in-test Runtime + Extensions API that answers like the real one (reference §1,
//! §3) and records every call byte for byte, plus helpers to run the proxy and the runtimes under test.
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

use lambda_lens::proxy::Proxy;
use lambda_lens::record::{ProxyRecord, RecordSender};
use lambda_lens::settings::RuntimeApiEndpoint;

/// The largest payload the Runtime API accepts (6 MiB + 100 bytes).
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024 + 100;
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:example:live";
pub const TRACE_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

/// An invocation the fake hands out on `/next`.
#[derive(Clone, Debug)]
pub struct FakeInvocation {
    pub request_id: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl FakeInvocation {
    /// An invocation with the headers Lambda always sends.
    pub fn new(request_id: &str, body: impl Into<Bytes>) -> Self {
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after epoch")
            .as_millis()
            + 30_000;
        Self {
            request_id: request_id.to_owned(),
            headers: vec![
                ("Lambda-Runtime-Aws-Request-Id".into(), request_id.into()),
                ("Lambda-Runtime-Deadline-Ms".into(), deadline.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn".into(),
                    FUNCTION_ARN.into(),
                ),
                ("Lambda-Runtime-Trace-Id".into(), TRACE_HEADER.into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request the fake received, complete.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
    /// Arrival time and size of each body frame.
    pub frames: Vec<(Instant, usize)>,
    pub connection: usize,
}

#[derive(Default)]
struct State {
    invocations: Mutex<VecDeque<FakeInvocation>>,
    invocation_ready: Notify,
    extension_events: Mutex<VecDeque<String>>,
    extension_event_ready: Notify,
    calls: Mutex<Vec<Call>>,
    call_seen: Notify,
    next_calls: AtomicUsize,
    connections: AtomicUsize,
    answers: Mutex<Vec<(String, u16, String)>>,
    register_probe: Mutex<Option<Box<dyn Fn() -> String + Send + Sync>>>,
    probe_results: Mutex<Vec<String>>,
}

/// A fake Runtime + Extensions API on 127.0.0.1 (ephemeral port).
pub struct FakeLambda {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl FakeLambda {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake Lambda binds an ephemeral port");
        let addr = listener.local_addr().expect("bound address");
        let state = Arc::new(State::default());
        let serve_state = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                stream
                    .set_nodelay(true)
                    .expect("nodelay on fake Lambda socket");
                let connection = serve_state.connections.fetch_add(1, Ordering::SeqCst);
                let state = Arc::clone(&serve_state);
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(handle(state, connection, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, state }
    }

    /// `host:port`, the form Lambda puts in `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    pub fn endpoint(&self) -> RuntimeApiEndpoint {
        RuntimeApiEndpoint::parse(&self.runtime_api()).expect("fake address parses")
    }

    pub fn push_invocation(&self, invocation: FakeInvocation) {
        lock(&self.state.invocations).push_back(invocation);
        self.state.invocation_ready.notify_waiters();
    }

    pub fn push_extension_event(&self, event: serde_json::Value) {
        lock(&self.state.extension_events).push_back(event.to_string());
        self.state.extension_event_ready.notify_waiters();
    }

    /// Answer calls whose path ends with `suffix` with `status` and `body` instead of 202.
    pub fn answer(&self, suffix: &str, status: u16, body: &str) {
        lock(&self.state.answers).push((suffix.to_owned(), status, body.to_owned()));
    }

    /// Run `probe` when an extension registers; its results are in [`Self::probe_results`].
    pub fn on_register(&self, probe: impl Fn() -> String + Send + Sync + 'static) {
        *lock(&self.state.register_probe) = Some(Box::new(probe));
    }

    pub fn probe_results(&self) -> Vec<String> {
        lock(&self.state.probe_results).clone()
    }

    pub fn calls(&self) -> Vec<Call> {
        lock(&self.state.calls).clone()
    }

    pub fn next_calls(&self) -> usize {
        self.state.next_calls.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Waits for a recorded call matching `pred`.
    pub async fn wait_for_call(&self, what: &str, pred: impl Fn(&Call) -> bool) -> Call {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.state.call_seen.notified();
            if let Some(call) = lock(&self.state.calls).iter().find(|c| pred(c)) {
                return call.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; calls: {:#?}",
                self.summary()
            );
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    /// Waits for the result call (`/response` or `/error`) of `request_id`.
    pub async fn wait_for_result(&self, request_id: &str) -> Call {
        let prefix = format!("/2018-06-01/runtime/invocation/{request_id}/");
        self.wait_for_call(&format!("result of {request_id}"), |c| {
            c.path.starts_with(&prefix)
        })
        .await
    }

    fn summary(&self) -> Vec<String> {
        lock(&self.state.calls)
            .iter()
            .map(|c| format!("{} {} ({} bytes)", c.method, c.path, c.body.len()))
            .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn json_response(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Full::new(body.into()))
        .expect("valid fake response")
}

async fn handle(
    state: Arc<State>,
    connection: usize,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, mut body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let mut data = Vec::new();
    let mut frames = Vec::new();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(chunk) = frame.data_ref() {
            frames.push((Instant::now(), chunk.len()));
            data.extend_from_slice(chunk);
        } else if let Some(t) = frame.trailers_ref() {
            trailers = Some(t.clone());
        }
    }
    let call = Call {
        method: parts.method.clone(),
        path: path.clone(),
        headers: parts.headers.clone(),
        body: Bytes::from(data),
        trailers,
        frames,
        connection,
    };
    let body_len = call.body.len();
    let is_register = path == "/2020-01-01/extension/register";
    if is_register {
        if let Some(probe) = lock(&state.register_probe).as_ref() {
            let result = probe();
            lock(&state.probe_results).push(result);
        }
    }
    lock(&state.calls).push(call);
    state.call_seen.notify_waiters();

    if let Some((_, status, body)) = lock(&state.answers)
        .iter()
        .find(|(suffix, _, _)| path.ends_with(suffix.as_str()))
    {
        return json_response(*status, body.clone());
    }

    match (parts.method.clone(), path.as_str()) {
        (Method::GET, "/2018-06-01/runtime/invocation/next") => {
            state.next_calls.fetch_add(1, Ordering::SeqCst);
            let invocation = loop {
                let notified = state.invocation_ready.notified();
                if let Some(inv) = lock(&state.invocations).pop_front() {
                    break inv;
                }
                notified.await;
            };
            let mut resp = Response::builder().status(StatusCode::OK);
            for (k, v) in &invocation.headers {
                resp = resp.header(k.as_str(), v.as_str());
            }
            resp.body(Full::new(invocation.body))
                .expect("valid fake /next answer")
        }
        (Method::POST, p) if p.starts_with("/2018-06-01/runtime/") => {
            // Streamed responses may be up to 200 MB; buffered ones up to 6 MiB + 100 bytes.
            let streaming = parts
                .headers
                .get("lambda-runtime-function-response-mode")
                .is_some_and(|m| m == "streaming");
            let limit = if streaming { 200 * 1024 * 1024 } else { MAX_PAYLOAD };
            if body_len > limit {
                json_response(
                    413,
                    r#"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#,
                )
            } else {
                json_response(202, r#"{"status":"OK"}"#)
            }
        }
        (Method::POST, "/2020-01-01/extension/register") => Response::builder()
            .status(200)
            .header("Lambda-Extension-Identifier", "2d1c4ff3-6bd8-4d9a-9c4c-0e4c4f1e0a11")
            .header("Content-Type", "application/json")
            .body(Full::new(Bytes::from_static(
                br#"{"functionName":"example","functionVersion":"$LATEST","handler":"app.handler","accountId":"123456789012"}"#,
            )))
            .expect("valid register answer"),
        (Method::GET, "/2020-01-01/extension/event/next") => {
            let event = loop {
                let notified = state.extension_event_ready.notified();
                if let Some(e) = lock(&state.extension_events).pop_front() {
                    break e;
                }
                notified.await;
            };
            json_response(200, event)
        }
        (Method::POST, "/2020-01-01/extension/init/error") => json_response(202, r#"{"status":"OK"}"#),
        _ => json_response(
            404,
            r#"{"errorMessage":"Unknown path","errorType":"NotFound"}"#,
        ),
    }
}

/// The proxy under test, in-process, with its record queue.
pub struct ProxyUnderTest {
    pub addr: SocketAddr,
    pub records: mpsc::Receiver<ProxyRecord>,
}

impl ProxyUnderTest {
    pub async fn start(upstream: RuntimeApiEndpoint, capture_bytes: usize) -> Self {
        Self::start_with(
            upstream,
            capture_bytes,
            lambda_lens::transform::Transforms::none(),
        )
        .await
    }

    pub async fn start_with(
        upstream: RuntimeApiEndpoint,
        capture_bytes: usize,
        transforms: lambda_lens::transform::Transforms,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds an ephemeral port");
        let addr = listener.local_addr().expect("bound address");
        let (sender, records) = RecordSender::channel();
        let proxy = Proxy::new(upstream, capture_bytes, sender).with_transforms(transforms);
        tokio::spawn(proxy.serve(listener));
        Self { addr, records }
    }

    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// The next record, within 10 s.
    pub async fn record(&mut self) -> ProxyRecord {
        tokio::time::timeout(Duration::from_secs(10), self.records.recv())
            .await
            .expect("a record within 10 s")
            .expect("record queue open")
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python of the project venv (`make venv`).
pub fn venv_python() -> PathBuf {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make venv` (the README's test command does)",
        python.display()
    );
    python
}

/// A child process killed when dropped.
pub struct ChildGuard(pub Option<tokio::process::Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// Starts the example Python function with `awslambdaric`, talking to `runtime_api`.
pub fn spawn_python_function(runtime_api: &str) -> ChildGuard {
    let child = tokio::process::Command::new(venv_python())
        .args(["-m", "awslambdaric", "app.handler"])
        .current_dir(repo_root().join("examples/python-function"))
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "example")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("_HANDLER", "app.handler")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python runtime starts");
    ChildGuard(Some(child))
}

/// Starts the streaming Rust example function, talking to `runtime_api`.
pub fn spawn_stream_function(runtime_api: &str) -> ChildGuard {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_lambda-lens"))
        .parent()
        .expect("binary directory")
        .join("examples/stream_function");
    if !exe.exists() {
        // `cargo test` builds examples, `cargo test --test runtimes` does not.
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--example", "stream_function"])
            .current_dir(repo_root())
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building the stream_function example failed"
        );
    }
    let child = tokio::process::Command::new(exe)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "stream")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("stream function starts");
    ChildGuard(Some(child))
}

/// A layer directory as Lambda extracts it under `/opt`: `extensions/lambda-lens` (this build's
/// binary) and `lambda-lens-wrapper`. Unique per test `name`.
pub fn build_layer(name: &str) -> PathBuf {
    let opt = std::env::temp_dir().join(format!("lens-layer-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&opt);
    std::fs::create_dir_all(opt.join("extensions")).expect("layer dirs");
    std::fs::copy(
        env!("CARGO_BIN_EXE_lambda-lens"),
        opt.join("extensions/lambda-lens"),
    )
    .expect("extension copied into the layer");
    std::fs::copy(
        repo_root().join("layer/lambda-lens-wrapper"),
        opt.join("lambda-lens-wrapper"),
    )
    .expect("wrapper copied into the layer");
    opt
}

/// The example Python function in the sandbox with the layer at `opt` installed through the
/// wrapper, lambda-lens on free ports, a 2 s timeout and real freezing between invocations.
pub fn python_sandbox_config(opt: &std::path::Path) -> lambda_sandbox::SandboxConfig {
    lambda_sandbox::SandboxConfig::new(
        repo_root().join("examples/python-function"),
        vec![
            venv_python().to_string_lossy().into_owned(),
            "-m".into(),
            "awslambdaric".into(),
            "app.handler".into(),
        ],
    )
    .with_opt_dir(opt)
    .with_env(
        "AWS_LAMBDA_EXEC_WRAPPER",
        opt.join("lambda-lens-wrapper").to_string_lossy(),
    )
    .with_env("LAMBDA_LENS_PROXY_PORT", "0")
    .with_env("LAMBDA_LENS_TELEMETRY_PORT", "0")
    .with_env(
        "LAMBDA_LENS_HANDOFF_FILE",
        opt.join("handoff/runtime-api").to_string_lossy(),
    )
    .with_timeout(Duration::from_secs(2))
    .with_freeze(lambda_sandbox::FreezeMode::Signals)
    .quiet()
}

/// The `extension` telemetry lines lambda-lens logged that carry a record for `request_id`.
pub fn records_for(sandbox: &lambda_sandbox::Sandbox, request_id: &str) -> Vec<serde_json::Value> {
    sandbox
        .telemetry_emitted()
        .into_iter()
        .filter(|e| e["type"] == "extension")
        .filter_map(|e| {
            let line = match &e["record"] {
                serde_json::Value::String(s) => s.clone(),
                other => other["message"].as_str().unwrap_or_default().to_owned(),
            };
            let json = &line[line.find("{\"record\"")?..];
            serde_json::from_str::<serde_json::Value>(json.trim()).ok()
        })
        .filter(|r| r["request_id"] == request_id)
        .collect()
}
