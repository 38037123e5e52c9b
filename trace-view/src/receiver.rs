//! The receiver's lifecycle: binding the HTTP and gRPC ports, accepting connections, the
//! fault-injection mode switches, and the [`ReceiverHandle`] tests and the binary drive it by.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::service::{service_fn, Service};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, Mutex};
use tokio::task::{JoinHandle, JoinSet};

use crate::http::{HttpSettings, TRACES_PATH};
use crate::model::{ReceivedSpan, RequestInfo};
use crate::signals::{ReceivedLog, ReceivedMetric};
use crate::store::{Mode, Shared};

/// Errors of the receiver.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// A listening socket could not be bound (at start, or when leaving [`Mode::Down`]).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that could not be bound.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// [`Receiver::start`] was called outside a Tokio runtime.
    #[error("the receiver must be started from within a Tokio runtime")]
    NoRuntime,
    /// [`ReceiverHandle::wait_for_spans`] gave up.
    #[error("timed out after {timeout:?} waiting for {wanted}; received {} span(s): {names:?}", names.len())]
    Timeout {
        /// How long it waited.
        timeout: Duration,
        /// What it waited for, as described by the [`SpanCondition`].
        wanted: String,
        /// The names of the spans received by then, to explain the failure.
        names: Vec<String>,
    },
}

/// Where and how the receiver listens.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// The OTLP/HTTP address; port 0 picks a free port. Default `127.0.0.1:0`.
    pub http_addr: SocketAddr,
    /// The OTLP/gRPC address; port 0 picks a free port. Default `127.0.0.1:0`.
    pub grpc_addr: SocketAddr,
    /// One more exact HTTP path to accept besides any path ending in `/v1/traces`.
    pub extra_http_path: Option<String>,
    /// The largest request body accepted, before and after decompression. Default 64 MiB.
    pub max_body_bytes: usize,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        let loopback_any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            http_addr: loopback_any_port,
            grpc_addr: loopback_any_port,
            extra_http_path: None,
            max_body_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Starts receivers; see [`Receiver::start`].
#[derive(Debug)]
pub struct Receiver;

impl Receiver {
    /// Binds both ports and starts serving on the current Tokio runtime.
    ///
    /// The ports stay bound until [`ReceiverHandle::shutdown`] (or the handle is dropped);
    /// [`Mode::Down`] closes them temporarily and re-binds the same addresses.
    pub fn start(config: ReceiverConfig) -> Result<ReceiverHandle, ReceiverError> {
        tokio::runtime::Handle::try_current().map_err(|_| ReceiverError::NoRuntime)?;
        let http_listener = bind(config.http_addr)?;
        let grpc_listener = bind(config.grpc_addr)?;
        let http_addr = local_addr(&http_listener, config.http_addr)?;
        let grpc_addr = local_addr(&grpc_listener, config.grpc_addr)?;
        let shared = Arc::new(Shared::new());
        let settings = Arc::new(HttpSettings {
            extra_path: config.extra_http_path,
            max_body_bytes: config.max_body_bytes,
        });
        let tasks = spawn_listeners(&shared, &settings, http_listener, grpc_listener);
        Ok(ReceiverHandle {
            shared,
            settings,
            http_addr,
            grpc_addr,
            listeners: Mutex::new(tasks),
        })
    }
}

/// A running receiver: its endpoints, what it captured, and its fault-injection switch.
///
/// Dropping the handle stops the receiver, like [`ReceiverHandle::shutdown`].
#[derive(Debug)]
pub struct ReceiverHandle {
    shared: Arc<Shared>,
    settings: Arc<HttpSettings>,
    http_addr: SocketAddr,
    grpc_addr: SocketAddr,
    /// The accept loops; empty while [`Mode::Down`] or after shutdown. Aborting one drops its
    /// listener and, with its `JoinSet`, every connection it accepted.
    listeners: Mutex<Vec<JoinHandle<()>>>,
}

impl ReceiverHandle {
    /// The bound OTLP/HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The bound OTLP/gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The OTLP/HTTP base endpoint, e.g. `http://127.0.0.1:4318`, as for
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The full OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`, as for
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    pub fn http_traces_url(&self) -> String {
        format!("{}{TRACES_PATH}", self.http_endpoint())
    }

    /// The OTLP/gRPC endpoint, e.g. `http://127.0.0.1:4317`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// Every span accepted so far (since the last [`clear`](Self::clear)), in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.shared.spans()
    }

    /// Every log record accepted so far, in arrival order.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.shared.logs()
    }

    /// Every metric accepted so far (one entry per metric per export), in arrival order.
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.shared.metrics()
    }

    /// Waits until the captured log records and metrics satisfy `ready`, and returns them.
    pub async fn wait_for_signals(
        &self,
        ready: impl Fn(&[ReceivedLog], &[ReceivedMetric]) -> bool,
        timeout: Duration,
    ) -> Result<(Vec<ReceivedLog>, Vec<ReceivedMetric>), ReceiverError> {
        let mut changes = self.shared.watch_generation();
        let waiting = async {
            loop {
                changes.borrow_and_update();
                let (logs, metrics) = (self.shared.logs(), self.shared.metrics());
                if ready(&logs, &metrics) {
                    return (logs, metrics);
                }
                changes
                    .changed()
                    .await
                    .expect("the change counter outlives the handle");
            }
        };
        tokio::time::timeout(timeout, waiting)
            .await
            .map_err(|_| ReceiverError::Timeout {
                timeout,
                wanted: "log records and metrics matching the predicate".to_owned(),
                names: self.shared.spans().into_iter().map(|s| s.name).collect(),
            })
    }

    /// Every request answered so far (accepted, refused or rejected), in answer order.
    pub fn requests(&self) -> Vec<RequestInfo> {
        self.shared.requests()
    }

    /// Forgets the captured spans and requests.
    pub fn clear(&self) {
        self.shared.clear();
    }

    /// A stream of every span accepted from now on, in arrival order. The stream ends once
    /// the handle is dropped and the last connection has closed.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<ReceivedSpan> {
        self.shared.subscribe()
    }

    /// Waits until the captured spans satisfy `condition` and returns all captured spans.
    ///
    /// `condition` is either a count (`handle.wait_for_spans(3, timeout)` waits for at least
    /// three spans) or a predicate over all captured spans
    /// (`handle.wait_for_spans(|spans: &[ReceivedSpan]| spans.iter().any(|s| s.name == "x"), timeout)`).
    pub async fn wait_for_spans<C: SpanCondition>(
        &self,
        condition: C,
        timeout: Duration,
    ) -> Result<Vec<ReceivedSpan>, ReceiverError> {
        let mut changes = self.shared.watch_generation();
        let waiting = async {
            loop {
                changes.borrow_and_update();
                let spans = self.shared.spans();
                if condition.is_met(&spans) {
                    return spans;
                }
                // The sender lives in `self.shared`, which outlives this borrow.
                changes
                    .changed()
                    .await
                    .expect("the span counter outlives the handle");
            }
        };
        tokio::time::timeout(timeout, waiting)
            .await
            .map_err(|_| ReceiverError::Timeout {
                timeout,
                wanted: condition.describe(),
                names: self
                    .shared
                    .spans()
                    .into_iter()
                    .map(|span| span.name)
                    .collect(),
            })
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.shared.mode()
    }

    /// Switches the fault-injection mode; returns once the switch is in effect.
    ///
    /// - [`Mode::Normal`]: store and acknowledge requests.
    /// - [`Mode::Refuse`]: answer HTTP 503 / gRPC `UNAVAILABLE`.
    /// - [`Mode::Throttle`]: answer HTTP 429 with `Retry-After` / gRPC `RESOURCE_EXHAUSTED`.
    /// - [`Mode::Reject`]: answer HTTP 400 / gRPC `INVALID_ARGUMENT`.
    /// - [`Mode::Hang`]: read requests but hold the answer until the mode changes.
    /// - [`Mode::Down`]: close both ports and all connections (clients get "connection
    ///   refused"); any other mode afterwards re-binds the same ports, which fails with
    ///   [`ReceiverError::Bind`] only if another process took them meanwhile.
    pub async fn set_mode(&self, mode: Mode) -> Result<(), ReceiverError> {
        let mut listeners = self.listeners.lock().await;
        // Publish the mode first so no request is admitted under the old one after we return.
        self.shared.set_mode(mode);
        if mode == Mode::Down {
            stop(&mut listeners).await;
        } else if listeners.is_empty() {
            let http_listener = bind(self.http_addr)?;
            let grpc_listener = bind(self.grpc_addr)?;
            *listeners =
                spawn_listeners(&self.shared, &self.settings, http_listener, grpc_listener);
        }
        Ok(())
    }

    /// Stops listening and closes every connection; captured data stays readable and
    /// [`mode`](Self::mode) reports [`Mode::Down`] from then on.
    pub async fn shutdown(&self) {
        let mut listeners = self.listeners.lock().await;
        // Releases held requests whose connections are gone (see `Shared::admit`).
        self.shared.set_mode(Mode::Down);
        stop(&mut listeners).await;
    }
}

impl Drop for ReceiverHandle {
    fn drop(&mut self) {
        for task in self.listeners.get_mut().iter() {
            task.abort();
        }
    }
}

/// What [`ReceiverHandle::wait_for_spans`] waits for: a minimum span count (`usize`) or a
/// predicate over all captured spans (`Fn(&[ReceivedSpan]) -> bool`).
pub trait SpanCondition {
    /// Whether the captured spans satisfy the condition.
    fn is_met(&self, spans: &[ReceivedSpan]) -> bool;
    /// A short description for timeout errors.
    fn describe(&self) -> String;
}

impl SpanCondition for usize {
    fn is_met(&self, spans: &[ReceivedSpan]) -> bool {
        spans.len() >= *self
    }

    fn describe(&self) -> String {
        format!("{self} span(s)")
    }
}

impl<F: Fn(&[ReceivedSpan]) -> bool> SpanCondition for F {
    fn is_met(&self, spans: &[ReceivedSpan]) -> bool {
        self(spans)
    }

    fn describe(&self) -> String {
        "spans matching the predicate".to_owned()
    }
}

/// Binds a listening socket. `SO_REUSEADDR` lets [`Mode::Down`] re-bind the same port while
/// connections it closed linger in `TIME_WAIT`.
fn bind(addr: SocketAddr) -> Result<TcpListener, ReceiverError> {
    let bind_error = |source| ReceiverError::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(bind_error)?;
    socket.set_reuseaddr(true).map_err(bind_error)?;
    socket.bind(addr).map_err(bind_error)?;
    socket.listen(1024).map_err(bind_error)
}

fn local_addr(listener: &TcpListener, requested: SocketAddr) -> Result<SocketAddr, ReceiverError> {
    listener.local_addr().map_err(|source| ReceiverError::Bind {
        addr: requested,
        source,
    })
}

/// Spawns the accept loops of both ports.
fn spawn_listeners(
    shared: &Arc<Shared>,
    settings: &Arc<HttpSettings>,
    http_listener: TcpListener,
    grpc_listener: TcpListener,
) -> Vec<JoinHandle<()>> {
    let http_shared = Arc::clone(shared);
    let http_settings = Arc::clone(settings);
    let http_service = service_fn(move |request: Request<Incoming>| {
        crate::http::handle(
            Arc::clone(&http_shared),
            Arc::clone(&http_settings),
            request,
        )
    });
    let router = crate::grpc::router(Arc::clone(shared), settings.max_body_bytes);
    let grpc_service = service_fn(move |request: Request<Incoming>| router.route(request));
    vec![
        tokio::spawn(accept_loop(http_listener, http_service)),
        tokio::spawn(accept_loop(grpc_listener, grpc_service)),
    ]
}

/// Aborts the accept loops and waits until their listeners and connections are gone.
async fn stop(listeners: &mut Vec<JoinHandle<()>>) {
    for task in listeners.iter() {
        task.abort();
    }
    for task in listeners.drain(..) {
        // The only possible error is the cancellation we just asked for.
        let _ = task.await;
    }
}

/// Accepts connections and serves each (HTTP/1.1 or h2c) with `service` until aborted.
async fn accept_loop<S, B>(listener: TcpListener, service: S)
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    // Owning the connections here means aborting this loop closes them all.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let service = service.clone();
                    connections.spawn(async move {
                        // A client going away mid-request is normal for an exporter under test.
                        let _: Result<(), _> = auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                // E.g. out of file descriptors: back off instead of spinning on the error.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            Some(_finished) = connections.join_next() => {}
        }
    }
}
