//! An in-test Runtime + Extensions API on an ephemeral port that answers like the real one and
//! records every call byte for byte: the body as it arrived, frame by frame, and its trailers.

mod answers;
mod invocation;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use lambda_lens::settings::RuntimeApiEndpoint;

pub use self::answers::MAX_PAYLOAD;
pub use self::invocation::{FakeInvocation, FUNCTION_ARN, TRACE_HEADER};

/// One request the fake received, complete.
#[derive(Clone, Debug)]
pub struct Call {
    /// The request's method.
    pub method: Method,
    /// The request's path (without the query).
    pub path: String,
    /// The request's headers.
    pub headers: HeaderMap,
    /// The body, whole.
    pub body: Bytes,
    /// The trailers of a chunked body.
    pub trailers: Option<HeaderMap>,
    /// Arrival time and size of each body frame.
    pub frames: Vec<(Instant, usize)>,
    /// Which connection carried the call, counted from 0 in accept order.
    pub connection: usize,
}

/// A check run when an extension registers, and what it found.
type RegisterProbe = Box<dyn Fn() -> String + Send + Sync>;

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
    register_probe: Mutex<Option<RegisterProbe>>,
    probe_results: Mutex<Vec<String>>,
}

/// A fake Runtime + Extensions API on 127.0.0.1 (ephemeral port).
pub struct FakeLambda {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl FakeLambda {
    /// Starts the fake on an ephemeral port.
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
                        async move { Ok::<_, Infallible>(answers::handle(state, connection, req).await) }
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

    /// The fake as the proxy's upstream.
    pub fn endpoint(&self) -> RuntimeApiEndpoint {
        RuntimeApiEndpoint::parse(&self.runtime_api()).expect("fake address parses")
    }

    /// Queues an invocation for the next `/next`.
    pub fn push_invocation(&self, invocation: FakeInvocation) {
        lock(&self.state.invocations).push_back(invocation);
        self.state.invocation_ready.notify_waiters();
    }

    /// Queues an event for the next extension `/event/next`.
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

    /// What the register probe found, one entry per registration.
    pub fn probe_results(&self) -> Vec<String> {
        lock(&self.state.probe_results).clone()
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.state.calls).clone()
    }

    /// How many `/next` calls arrived.
    pub fn next_calls(&self) -> usize {
        self.state.next_calls.load(Ordering::SeqCst)
    }

    /// How many connections were opened to the fake.
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
