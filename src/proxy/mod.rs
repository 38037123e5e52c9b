//! The Runtime API proxy: the function's runtime talks to this listener instead of the Runtime API.
//!
//! Every request is forwarded to the upstream Runtime API and every answer back: status line, header
//! lines (as received: case, order, spacing, unknown ones), bodies and trailers, relayed as they arrive
//! with their framing unchanged. Only hop-by-hop headers are dropped and `Host` names the upstream, as
//! HTTP requires of a proxy. Along the way a [`Tap`] keeps the first bytes of each body and the proxy
//! sends [`ProxyRecord`]s to the owner task.
//!
//! Each runtime connection is served by one task that keeps one upstream connection, like a plain TCP
//! relay: an exchange costs the same system calls as one and no task switches.
//!
//! The rooms, in the order a request meets them:
//! - `session`: one runtime connection, its exchanges one after the other;
//! - `head` parses and writes HTTP/1 heads, `field_list` indexes a head's lines (reusing the
//!   allocation), `head_end` tells when a growing head is worth parsing, `wire` moves bodies by
//!   their framing, `chunked` validates chunked framing as it passes, `names`
//!   lists the header names the proxy reads or sets and `tags` recognizes them once per head;
//!   `whole_body` reads a body whole for the platform messages lambda-lens consumes itself (the
//!   event poll, telemetry deliveries);
//! - `route`: which Runtime API call a request is;
//! - `/next`: `next` claims an event from the `broker` or calls upstream, `deliver` hands it to
//!   the runtime, `orphan` finishes a call whose runtime left so that its event is not lost;
//! - results: `result` records them (and applies response transforms), `relay` forwards them and
//!   every other call; `awaiting_next` tells which invocation a runtime's next `/next` ends;
//! - `records` builds what the owner task is told, `transformable` and `transform_spans` serve
//!   transforms, `reply` writes lambda-lens's own answers, `runtime_conn` watches and closes the
//!   runtime's connection, `upstream` keeps upstream connections.
//!
//! [`ProxyRecord`]: crate::record::ProxyRecord
//! [`Tap`]: crate::capture::Tap

mod awaiting_next;
mod broker;
pub(crate) mod chunked;
mod deliver;
mod field_list;
pub(crate) mod head;
mod head_end;
mod names;
mod next;
mod orphan;
mod records;
mod relay;
mod repeated;
mod reply;
mod result;
mod route;
mod runtime_conn;
mod session;
mod tags;
mod transform_spans;
mod transformable;
mod upstream;
pub(crate) mod whole_body;
pub(crate) mod wire;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

use self::awaiting_next::AwaitingNext;
use self::broker::Broker;
use self::session::Session;
use self::transform_spans::TransformSpans;
use self::upstream::Pool;
use crate::record::RecordSender;
use crate::settings::RuntimeApiEndpoint;
use crate::trace_context::TraceRules;
use crate::transform::Transforms;

/// Head limit: the real Runtime API (Go's net/http) accepts 1 MiB of headers, and runtimes send X-Ray
/// error causes of up to 1 MiB in a header.
pub(crate) const MAX_HEAD_BYTES: usize = 1024 * 1024 + 64 * 1024;
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop cannot spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// The proxy: cheap to clone, all clones share one upstream pool and one record queue.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

/// What every runtime connection's task shares.
struct Shared {
    pool: Pool,
    upstream: RuntimeApiEndpoint,
    capture_bytes: usize,
    records: RecordSender,
    broker: Mutex<Broker>,
    /// Accepted results whose runtime has not asked for its next event yet.
    awaiting_next: Mutex<AwaitingNext>,
    /// The id of the next runtime connection.
    connections: AtomicU64,
    transforms: Transforms,
    /// Span identities kept from `/next` to `/response` for response transforms.
    transform_spans: TransformSpans,
    /// What each invocation's parent and sampling decision are made with.
    trace_rules: TraceRules,
    /// Whether anything is exported: when not, an event is parsed for its parent only if a
    /// transform stamps the invocation's identity.
    exporting: bool,
    /// Whether a batch event's records are read for its span's links: only when spans are exported.
    span_links: bool,
}

/// What lambda-lens exports, as far as the proxy's work depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exported {
    /// Nothing (`OTEL_SDK_DISABLED=true`, or `none` for every signal).
    Nothing,
    /// Metrics or log records, but no spans (`OTEL_TRACES_EXPORTER=none`).
    NoSpans,
    /// Spans, and whatever else is configured.
    Spans,
}

impl Proxy {
    /// A proxy forwarding to `upstream`, keeping `capture_bytes` of each body, reporting to `records`.
    pub fn new(upstream: RuntimeApiEndpoint, capture_bytes: usize, records: RecordSender) -> Self {
        Self {
            shared: Arc::new(Shared {
                pool: Pool::new(upstream.authority().as_str().to_owned()),
                upstream,
                capture_bytes,
                records,
                broker: Mutex::new(Broker::default()),
                awaiting_next: Mutex::new(AwaitingNext::default()),
                connections: AtomicU64::new(0),
                transforms: Transforms::none(),
                transform_spans: TransformSpans::default(),
                trace_rules: TraceRules::default(),
                exporting: true,
                span_links: true,
            }),
        }
    }

    /// Enables `transforms`; call before [`Proxy::serve`].
    pub fn with_transforms(mut self, transforms: Transforms) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.transforms = transforms;
        }
        self
    }

    /// Chooses invocations' parents and sampling decisions by `rules`; call before
    /// [`Proxy::serve`].
    pub fn with_trace_rules(mut self, rules: TraceRules) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.trace_rules = rules;
        }
        self
    }

    /// Says what is exported (everything, unless told otherwise); call before [`Proxy::serve`].
    /// Without export, nothing reads an invocation's parent unless a transform stamps it; without
    /// spans, nothing reads a batch's records (its span's links). Events pass without being parsed
    /// for what nothing reads.
    pub fn with_export(mut self, exported: Exported) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.exporting = exported != Exported::Nothing;
            shared.span_links = exported == Exported::Spans;
        }
        self
    }

    /// Serves runtime connections on `listener` until the task is dropped.
    pub async fn serve(self, listener: TcpListener) {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "proxy accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            };
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "could not disable Nagle on a runtime connection");
            }
            tokio::spawn(Session::serve(Arc::clone(&self.shared), stream));
        }
    }
}

/// Locks a mutex, ignoring poisoning: the proxy's shared state stays consistent at every await point.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
