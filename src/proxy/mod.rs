//! The Runtime API proxy: the function's runtime talks to this listener instead of the Runtime API.
//!
//! Every request is forwarded to the upstream Runtime API and every answer back: status line, header
//! lines (as received: case, order, spacing, unknown ones), bodies and trailers, relayed as they arrive
//! with their framing unchanged. Only hop-by-hop headers are dropped and `Host` names the upstream, as
//! HTTP requires of a proxy. Along the way a [`Tap`] keeps the first bytes of each body and the proxy
//! sends [`ProxyRecord`]s to the owner task.
//!
//! Each runtime connection is served by one task that keeps one upstream connection, like a plain TCP
//! relay: an exchange costs the same system calls as one and no task switches. HTTP/1 heads are parsed
//! with `httparse` (see [`head`]) and bodies delimited by their framing (see [`wire`]).
//!
//! `/next` is a long poll that may outlive the runtime's connection (a runtime can be killed while it
//! waits); the [`broker`] makes sure such an event is kept for the next `/next` instead of being lost.
//!
//! [`ProxyRecord`]: crate::record::ProxyRecord

mod broker;
mod head;
mod upstream;
mod wire;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use self::broker::{Claim, FetchResult, Fetched};
use self::head::{Fields, Framing, RequestHead, ResponseHead};
use self::upstream::Pool;
use self::wire::{read_head, relay_body, Bounded, InBuf, ReadHeadError, RelayError};
use crate::capture::{capture_whole, Tap};
use crate::record::{
    InvocationRecord, PendingRecord, RecordSender, RequestId, ResultKind, ResultRecord,
    SpanIdentity,
};
use crate::redact::cut_at_char_boundary;
use crate::settings::RuntimeApiEndpoint;
use crate::transform::{Direction, TransformContext, Transforms, MAX_TRANSFORM_BYTES};

/// Invocations whose span identity is kept for response transforms (concurrent invocations).
const MAX_TRANSFORM_SPANS: usize = 1024;
/// Bytes kept of the upstream's answer to a result (`{"status":"OK"}` or an error JSON).
const UPSTREAM_ANSWER_CAPTURE_BYTES: usize = 1024;
/// Head limit: the real Runtime API (Go's net/http) accepts 1 MiB of headers, and runtimes send X-Ray
/// error causes of up to 1 MiB in a header.
pub(crate) const MAX_HEAD_BYTES: usize = 1024 * 1024 + 64 * 1024;
/// Largest event kept in memory for a runtime that left (Lambda's invoke payload limit is 6 MB).
const MAX_KEPT_EVENT_BYTES: usize = 8 * 1024 * 1024;
/// A runtime connection given up on is drained for at most this long and this many bytes before it
/// closes (see [`linger_close`]); Lambda's largest payload fits.
const LINGER_MAX_TIME: Duration = Duration::from_secs(2);
const LINGER_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop cannot spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(10);

const RUNTIME_PREFIX: &str = "/2018-06-01/runtime/";

/// Runtime API header names the proxy reads.
mod names {
    pub const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
    pub const DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
    pub const INVOKED_ARN: &str = "lambda-runtime-invoked-function-arn";
    pub const TRACE_ID: &str = "lambda-runtime-trace-id";
    pub const CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
    pub const COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";
    pub const TENANT_ID: &str = "lambda-runtime-aws-tenant-id";
    pub const RESPONSE_MODE: &str = "lambda-runtime-function-response-mode";
    pub const ERROR_TYPE: &str = "lambda-runtime-function-error-type";
    pub const ERROR_BODY: &str = "lambda-runtime-function-error-body";
    pub const XRAY_ERROR_CAUSE: &str = "lambda-runtime-function-xray-error-cause";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const CONTENT_LENGTH: &str = "content-length";
    pub const HOST: &str = "host";
}

/// The proxy: cheap to clone, all clones share one upstream pool and one record queue.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

struct Shared {
    pool: Pool,
    upstream: RuntimeApiEndpoint,
    capture_bytes: usize,
    records: RecordSender,
    broker: Mutex<broker::Broker>,
    transforms: Transforms,
    /// Span identities kept from `/next` to `/response` for response transforms.
    transform_spans: TransformSpans,
}

/// Invocation span identities between an event and its response, bounded by
/// [`MAX_TRANSFORM_SPANS`] (only kept when a response transform is on).
#[derive(Default)]
struct TransformSpans(Mutex<VecDeque<(RequestId, SpanIdentity, SystemTime)>>);

impl TransformSpans {
    fn remember(&self, id: RequestId, span: SpanIdentity, received_at: SystemTime) {
        let mut spans = lock(&self.0);
        if spans.len() >= MAX_TRANSFORM_SPANS {
            spans.pop_front();
        }
        spans.push_back((id, span, received_at));
    }

    fn take(&self, id: &RequestId) -> Option<(SpanIdentity, SystemTime)> {
        let mut spans = lock(&self.0);
        let at = spans.iter().position(|(i, _, _)| i == id)?;
        spans.remove(at).map(|(_, span, t)| (span, t))
    }
}

#[derive(Debug)]
enum Route {
    Next,
    Result(ResultKind, Option<RequestId>),
    Other,
}

fn route(method: &str, path: &str) -> Route {
    let Some(rest) = path.strip_prefix(RUNTIME_PREFIX) else {
        return Route::Other;
    };
    if method == "GET" && rest == "invocation/next" {
        return Route::Next;
    }
    if method != "POST" {
        return Route::Other;
    }
    if rest == "init/error" {
        return Route::Result(ResultKind::InitError, None);
    }
    let Some(rest) = rest.strip_prefix("invocation/") else {
        return Route::Other;
    };
    match rest.rsplit_once('/') {
        Some((id, "response")) if !id.is_empty() && !id.contains('/') => {
            Route::Result(ResultKind::Response, Some(RequestId::new(id)))
        }
        Some((id, "error")) if !id.is_empty() && !id.contains('/') => {
            Route::Result(ResultKind::Error, Some(RequestId::new(id)))
        }
        _ => Route::Other,
    }
}

/// A TCP connection and the bytes read from it but not yet relayed.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) buf: InBuf,
}

/// Whether a runtime connection can carry another request after an exchange.
type KeepAlive = bool;

impl Proxy {
    /// A proxy forwarding to `upstream`, keeping `capture_bytes` of each body, reporting to `records`.
    pub fn new(upstream: RuntimeApiEndpoint, capture_bytes: usize, records: RecordSender) -> Self {
        Self {
            shared: Arc::new(Shared {
                pool: Pool::new(upstream.authority().as_str().to_owned()),
                upstream,
                capture_bytes,
                records,
                broker: Mutex::new(broker::Broker::default()),
                transforms: Transforms::none(),
                transform_spans: TransformSpans::default(),
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
            tokio::spawn(Arc::clone(&self.shared).serve_runtime(stream));
        }
    }
}

impl Shared {
    /// One runtime connection: its exchanges one after the other, on the upstream connection it keeps.
    async fn serve_runtime(self: Arc<Self>, stream: TcpStream) {
        let mut rt = Conn {
            stream,
            buf: InBuf::default(),
        };
        let mut up = None;
        // Whether the connection ends by lambda-lens's choice rather than the runtime's.
        let given_up = loop {
            let req = match read_head(
                &mut rt.stream,
                &mut rt.buf,
                MAX_HEAD_BYTES,
                head::parse_request,
            )
            .await
            {
                Ok(Some(req)) => req,
                Ok(None) => break false,
                Err(e) => {
                    reject(&mut rt.stream, &e, false).await;
                    break true;
                }
            };
            if !self.exchange(&mut rt, &mut up, req).await {
                break true;
            }
        };
        if let Some(conn) = up {
            self.pool.put(conn);
        }
        if given_up {
            linger_close(&mut rt).await;
        }
    }

    /// One request and its answer. `up` holds the upstream connection between exchanges and is left
    /// empty when that connection cannot be used again.
    async fn exchange(
        self: &Arc<Self>,
        rt: &mut Conn,
        up: &mut Option<Conn>,
        req: RequestHead,
    ) -> KeepAlive {
        let framing = match req.framing() {
            Ok(framing) => framing,
            Err(e) => {
                reject(&mut rt.stream, &ReadHeadError::Head(e), req.is_head()).await;
                return false;
            }
        };
        let keep = !req.closes();
        match route(req.method(), req.path()) {
            Route::Next if matches!(framing, Framing::Empty | Framing::Length(0)) => {
                self.next(rt, up, &req).await && keep
            }
            Route::Result(kind, request_id) => {
                self.result(rt, up, &req, framing, kind, request_id).await && keep
            }
            _ => self.relay(rt, up, &req, framing, None, None).await && keep,
        }
    }

    /// The upstream head for a runtime request, with `Host` (and a new `Content-Length`) set.
    fn upstream_head(&self, req: &RequestHead, content_length: Option<usize>) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        let host = self.upstream.authority().as_str().as_bytes();
        let length = content_length.map(|n| n.to_string());
        match &length {
            Some(n) => req.write_upstream(
                &mut out,
                self.upstream.base_path(),
                &[(names::HOST, host), (names::CONTENT_LENGTH, n.as_bytes())],
            ),
            None => req.write_upstream(&mut out, self.upstream.base_path(), &[(names::HOST, host)]),
        }
        out
    }

    // ---------------------------------------------------------------------------------------------
    // /next

    async fn next(
        self: &Arc<Self>,
        rt: &mut Conn,
        up: &mut Option<Conn>,
        req: &RequestHead,
    ) -> bool {
        let claim = lock(&self.broker).claim();
        match claim {
            Claim::Ready(fetched) => self.hand_over(rt, fetched).await,
            Claim::Wait(rx) => {
                let mut waiter = Waiter {
                    rx: Some(rx),
                    shared: Arc::clone(self),
                };
                // A runtime seen leaving wins over an event arriving at the same moment: the event
                // is then kept (by the waiter's drop) instead of written into a closed connection.
                let outcome = tokio::select! {
                    biased;
                    () = runtime_left(rt) => None,
                    result = waiter.recv() => Some(result),
                };
                match outcome {
                    Some(Some(Ok(fetched))) => self.hand_over(rt, fetched).await,
                    Some(Some(Err(error))) => {
                        bad_gateway(&mut rt.stream, &self.upstream, &error, Reply::default()).await
                    }
                    Some(None) => {
                        bad_gateway(
                            &mut rt.stream,
                            &self.upstream,
                            "the upstream /next call was abandoned",
                            Reply::default(),
                        )
                        .await
                    }
                    // Dropping the waiter hands an event that arrived meanwhile to the next /next.
                    None => false,
                }
            }
            Claim::Fetch => self.fetch(rt, up, req).await,
        }
    }

    /// Calls upstream `/next` on this connection's upstream connection and streams the event on.
    async fn fetch(
        self: &Arc<Self>,
        rt: &mut Conn,
        up: &mut Option<Conn>,
        req: &RequestHead,
    ) -> bool {
        let out = self.upstream_head(req, None);
        let mut current = up.take();
        let mut retried = false;
        let (mut conn, head) = loop {
            let (mut conn, reused) = match self.pool.get(current.take()).await {
                Ok(got) => got,
                Err(e) => {
                    let error = e.to_string();
                    return bad_gateway(&mut rt.stream, &self.upstream, &error, Reply::default())
                        .await;
                }
            };
            let received_before = conn.buf.received();
            let sent = conn.stream.write_all(&out).await.map_err(|e| e.to_string());
            let waited = match sent {
                // A runtime seen leaving wins over an event arriving at the same moment: the event
                // is then kept instead of written into a closed connection.
                Ok(()) => tokio::select! {
                    biased;
                    () = runtime_left(rt) => None,
                    head = read_final_head(&mut conn) => Some(head),
                },
                Err(e) => Some(Err(e)),
            };
            match waited {
                None => {
                    self.orphan(conn);
                    return false;
                }
                Some(Ok(head)) => break (conn, head),
                // A kept connection the upstream closed meanwhile: one more try on a new one (no
                // answer byte arrived, so no event can have been taken).
                Some(Err(_)) if reused && !retried && conn.buf.received() == received_before => {
                    tracing::debug!("a kept upstream connection was closed; reconnecting");
                    retried = true;
                    self.pool.discard_idle();
                }
                Some(Err(error)) => {
                    return bad_gateway(&mut rt.stream, &self.upstream, &error, Reply::default())
                        .await
                }
            }
        };
        let received_at = SystemTime::now();
        let framing = match head.framing(false) {
            Ok(framing) => framing,
            Err(e) => {
                let error = e.to_string();
                return bad_gateway(&mut rt.stream, &self.upstream, &error, Reply::default()).await;
            }
        };
        let reusable = framing != Framing::UntilClose && !head.closes();

        if self.transforms.any(Direction::Event)
            && head.status() == 200
            && transformable(&head.fields, framing)
        {
            // Read whole here (a stated length: `transformable`), watching the runtime: if it
            // leaves, the event is kept, and a `/next` meanwhile waits for it.
            let mut sink = Bounded::new(MAX_KEPT_EVENT_BYTES);
            let mut unobserved = Tap::new(0);
            let read = tokio::select! {
                biased;
                () = runtime_left(rt) => None,
                read = relay_body(
                    &mut conn.stream,
                    &mut conn.buf,
                    &mut sink,
                    framing,
                    &[],
                    &mut unobserved,
                    MAX_HEAD_BYTES,
                ) => Some(read),
            };
            match read {
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    let error = e.to_string();
                    return bad_gateway(&mut rt.stream, &self.upstream, &error, Reply::default())
                        .await;
                }
                None => {
                    lock(&self.broker).orphaned();
                    // Writes to memory never wait, so the read stopped between reads: what is in
                    // `sink` and `conn.buf` is all that arrived.
                    let Framing::Length(total) = framing else {
                        unreachable!("transformable bodies have a stated length")
                    };
                    let rest = Framing::Length(total - sink.bytes.len() as u64);
                    let result = relay_body(
                        &mut conn.stream,
                        &mut conn.buf,
                        &mut sink,
                        rest,
                        &[],
                        &mut unobserved,
                        MAX_HEAD_BYTES,
                    )
                    .await
                    .map(|()| Fetched {
                        head,
                        body: Bytes::from(std::mem::take(&mut sink.bytes)),
                        received_at,
                    })
                    .map_err(|e| e.to_string());
                    if result.is_ok() && reusable {
                        *up = Some(conn);
                    }
                    lock(&self.broker).orphan_done(result, true);
                    return false;
                }
            }
            let body = Bytes::from(sink.bytes);
            if reusable {
                *up = Some(conn);
            }
            let fetched = Fetched {
                head,
                body,
                received_at,
            };
            return self.hand_over(rt, fetched).await;
        }

        let record = self.invocation_record(&head, received_at);
        let Conn { stream, buf } = &mut conn;
        match self
            .relay_event(rt, &head, framing, stream, buf, record, None)
            .await
        {
            Ok(()) => {
                if reusable {
                    *up = Some(conn);
                }
                framing != Framing::UntilClose
            }
            Err(RelayError::NotSent(_)) => {
                // The runtime left as its event arrived: keep the event for the next /next, which
                // waits for it rather than calling upstream while it is being read.
                tracing::info!("runtime left /next as its event arrived; event handed on");
                lock(&self.broker).orphaned();
                let result = read_whole(&mut conn, framing, MAX_KEPT_EVENT_BYTES)
                    .await
                    .map(|body| Fetched {
                        head,
                        body,
                        received_at,
                    })
                    .map_err(|e| e.to_string());
                if result.is_ok() && reusable {
                    *up = Some(conn);
                }
                lock(&self.broker).orphan_done(result, true);
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "an event could not be relayed whole");
                false
            }
        }
    }

    /// Lets a task finish an upstream `/next` whose runtime left, and keep its event.
    fn orphan(self: &Arc<Self>, mut conn: Conn) {
        tracing::info!("runtime left while its /next waited; the event will go to the next /next");
        lock(&self.broker).orphaned();
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            let result = fetch_whole(&mut conn).await;
            let reusable = result.as_ref().is_ok_and(|(_, reusable)| *reusable);
            lock(&shared.broker).orphan_done(result.map(|(fetched, _)| fetched), false);
            if reusable {
                shared.pool.put(conn);
            }
        });
    }

    /// Hands an event read whole (kept, or read for transforms) to the runtime; if the runtime is gone
    /// before any byte went out, the event goes back to the front of the queue.
    async fn hand_over(&self, rt: &mut Conn, fetched: Fetched) -> bool {
        let original = match fetched.head.framing(false) {
            Ok(framing) => framing,
            Err(e) => {
                let error = e.to_string();
                return bad_gateway(&mut rt.stream, &self.upstream, &error, Reply::default()).await;
            }
        };
        let record = self.invocation_record(&fetched.head, fetched.received_at);
        let mut body = fetched.body.clone();
        let mut content_length = None;
        if let Some(record) = &record {
            if self.transforms.any(Direction::Event)
                && transformable(&fetched.head.fields, original)
            {
                let ctx = TransformContext {
                    span: record.span,
                    received_at: fetched.received_at,
                    now: SystemTime::now(),
                };
                if let Some(changed) = self.transforms.apply(Direction::Event, &body, &ctx) {
                    body = Bytes::from(changed);
                    content_length = Some(body.len());
                }
            }
        }
        let framing = content_length.map_or(original, |n| Framing::Length(n as u64));
        let mut src: &[u8] = &body;
        let mut buf = InBuf::default();
        match self
            .relay_event(
                rt,
                &fetched.head,
                framing,
                &mut src,
                &mut buf,
                record,
                content_length,
            )
            .await
        {
            Ok(()) => framing != Framing::UntilClose,
            Err(RelayError::NotSent(_)) => {
                lock(&self.broker).offer(Ok(fetched), true);
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "a kept event could not be relayed whole");
                false
            }
        }
    }

    /// The record of an event about to be handed to the runtime; none for an answer that is not an
    /// event (not 200, or no request id).
    fn invocation_record(
        &self,
        head: &ResponseHead,
        received_at: SystemTime,
    ) -> Option<InvocationRecord> {
        let f = &head.fields;
        let Some(request_id) = f.string(names::REQUEST_ID).filter(|_| head.status() == 200) else {
            if head.status() == 200 {
                tracing::warn!("upstream /next answered without a request id; not recorded");
            }
            return None;
        };
        let trace_header = f.string(names::TRACE_ID);
        let span = SpanIdentity::new(trace_header.as_deref(), received_at);
        Some(InvocationRecord {
            request_id: RequestId::new(request_id),
            deadline_ms: f
                .string(names::DEADLINE_MS)
                .and_then(|v| v.trim().parse().ok()),
            invoked_function_arn: f.string(names::INVOKED_ARN),
            trace_header,
            client_context: f.string(names::CLIENT_CONTEXT),
            cognito_identity: f.string(names::COGNITO_IDENTITY),
            tenant_id: f.string(names::TENANT_ID),
            content_type: f.string(names::CONTENT_TYPE),
            upstream_status: head.status(),
            received_at,
            event: Default::default(),
            span,
        })
    }

    /// Relays an event from `src` to the runtime and sends its record. Fails with
    /// [`RelayError::NotSent`] (and sends no record) when the runtime was gone before any byte went out.
    #[allow(clippy::too_many_arguments)]
    async fn relay_event<R: AsyncRead + Unpin>(
        &self,
        rt: &mut Conn,
        head: &ResponseHead,
        framing: Framing,
        src: &mut R,
        buf: &mut InBuf,
        record: Option<InvocationRecord>,
        content_length: Option<usize>,
    ) -> Result<(), RelayError> {
        let mut out = Vec::with_capacity(512);
        match content_length.map(|n| n.to_string()) {
            Some(n) => head.write_downstream(&mut out, &[(names::CONTENT_LENGTH, n.as_bytes())]),
            None => head.write_downstream(&mut out, &[]),
        }
        if let Some(record) = &record {
            if self.transforms.any(Direction::Response) {
                self.transform_spans.remember(
                    record.request_id.clone(),
                    record.span,
                    record.received_at,
                );
            }
        }
        let mut tap = Tap::new(if record.is_some() {
            self.capture_bytes
        } else {
            0
        });
        // A runtime already seen gone gets nothing: the kernel would accept the write anyway.
        let result = if runtime_has_left(rt) {
            Err(RelayError::NotSent(
                std::io::ErrorKind::ConnectionAborted.into(),
            ))
        } else {
            relay_body(
                src,
                buf,
                &mut rt.stream,
                framing,
                &out,
                &mut tap,
                MAX_HEAD_BYTES,
            )
            .await
        };
        if let Some(mut record) = record {
            if matches!(result, Err(RelayError::NotSent(_))) {
                self.transform_spans.take(&record.request_id);
            } else {
                record.event = tap.finish(result.is_ok()).0;
                self.records.send(record.into());
            }
        }
        result
    }

    // ---------------------------------------------------------------------------------------------
    // Results and everything else

    async fn result(
        &self,
        rt: &mut Conn,
        up: &mut Option<Conn>,
        req: &RequestHead,
        framing: Framing,
        kind: ResultKind,
        request_id: Option<RequestId>,
    ) -> bool {
        let f = &req.fields;
        let mut record = PendingRecord::new(
            ResultRecord {
                kind,
                request_id,
                started_at: SystemTime::now(),
                streaming: f
                    .get(names::RESPONSE_MODE)
                    .is_some_and(|m| m.trim_ascii().eq_ignore_ascii_case(b"streaming")),
                content_type: f.string(names::CONTENT_TYPE),
                error_type: f.string(names::ERROR_TYPE),
                error_body_trailer: None,
                // Up to 1 MiB in a header: only the part kept is copied.
                xray_error_cause: f.get(names::XRAY_ERROR_CAUSE).map(|cause| {
                    let head = &cause[..cause.len().min(self.capture_bytes)];
                    let text = String::from_utf8_lossy(head).into_owned();
                    cut_at_char_boundary(text, self.capture_bytes).0
                }),
                body: Default::default(),
                upstream_status: None,
                upstream_error: None,
                upstream_body: Default::default(),
            },
            self.records.clone(),
        );
        let remembered = match (&kind, &record.request_id) {
            (ResultKind::Response, Some(id))
                if self.transforms.any(Direction::Response)
                    && transformable(f, framing)
                    && !req.expects_continue() =>
            {
                self.transform_spans.take(id)
            }
            _ => None,
        };
        let replacement = match remembered {
            Some((span, received_at)) => {
                let bytes = match read_whole(rt, framing, MAX_TRANSFORM_BYTES as usize).await {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        tracing::debug!(error = %e, "a runtime's response could not be read");
                        record.body.complete = false;
                        return false;
                    }
                };
                let ctx = TransformContext {
                    span,
                    received_at,
                    now: SystemTime::now(),
                };
                let bytes = self
                    .transforms
                    .apply(Direction::Response, &bytes, &ctx)
                    .map_or(bytes, Bytes::from);
                record.body = capture_whole(&bytes, self.capture_bytes);
                Some(bytes)
            }
            None => None,
        };
        self.relay(rt, up, req, framing, Some(&mut record), replacement)
            .await
    }

    /// Relays a request (its body from the runtime, or `replacement` when a transform changed it) and
    /// the upstream's answer, filling in `record` when the call is a result.
    async fn relay(
        &self,
        rt: &mut Conn,
        up: &mut Option<Conn>,
        req: &RequestHead,
        framing: Framing,
        mut record: Option<&mut PendingRecord<ResultRecord>>,
        replacement: Option<Bytes>,
    ) -> bool {
        // Whether the runtime's request has been read whole (so its connection stays usable).
        let mut request_read = framing == Framing::Empty || replacement.is_some();
        // The runtime's connection closes after this exchange whatever happens (it asked, or RFC 9112
        // §6.1 requires it of a request framed twice); the answer says so.
        let must_close = req.closes();
        let mut conn = match self.pool.get(up.take()).await {
            Ok((conn, _)) => conn,
            Err(e) => {
                let error = e.to_string();
                if let Some(record) = record.as_deref_mut() {
                    record.upstream_error = Some(error.clone());
                }
                let reply = Reply {
                    head_request: req.is_head(),
                    close: !request_read || must_close,
                };
                return bad_gateway(&mut rt.stream, &self.upstream, &error, reply).await;
            }
        };
        let out = self.upstream_head(req, replacement.as_ref().map(Bytes::len));
        let observed = record.is_some() && replacement.is_none();
        let mut tap = Tap::new(if observed { self.capture_bytes } else { 0 });

        // Send the request; with `Expect: 100-continue` the body only comes after the upstream's
        // interim answer, so body and answer are relayed together.
        let mut upstream_failed = None;
        let final_head = if let Some(body) = &replacement {
            if let Err(e) = wire::write_two(&mut conn.stream, &out, body).await {
                upstream_failed = Some(e.to_string());
            }
            None
        } else if req.expects_continue() && framing != Framing::Empty {
            let (head, sent) = {
                let (mut rt_r, mut rt_w) = rt.stream.split();
                let (mut up_r, mut up_w) = conn.stream.split();
                let body = relay_body(
                    &mut rt_r,
                    &mut rt.buf,
                    &mut up_w,
                    framing,
                    &out,
                    &mut tap,
                    MAX_HEAD_BYTES,
                );
                let answer = read_answer_head(&mut up_r, &mut conn.buf, &mut rt_w);
                tokio::pin!(body, answer);
                let mut sent = None;
                let head = loop {
                    tokio::select! {
                        result = &mut body, if sent.is_none() => {
                            // A runtime that failed mid-body leaves the upstream waiting for
                            // the rest: stop here rather than wait for an answer.
                            let runtime_failed = matches!(&result, Err(e) if !e.is_write());
                            sent = Some(result);
                            if runtime_failed {
                                break None;
                            }
                        }
                        head = &mut answer => break Some(head),
                    }
                };
                (head, sent)
            };
            match sent {
                Some(Ok(())) => request_read = true,
                Some(Err(e)) if !e.is_write() => {
                    finish_request_capture(record.as_deref_mut(), tap, false);
                    return false;
                }
                Some(Err(e)) => upstream_failed = Some(e.to_string()),
                // The upstream answered before the body was sent; neither connection is reusable.
                None => {}
            }
            head
        } else {
            match relay_body(
                &mut rt.stream,
                &mut rt.buf,
                &mut conn.stream,
                framing,
                &out,
                &mut tap,
                MAX_HEAD_BYTES,
            )
            .await
            {
                Ok(()) => request_read = true,
                Err(e) if !e.is_write() => {
                    // The runtime left mid-body: the upstream holds a partial request.
                    finish_request_capture(record.as_deref_mut(), tap, false);
                    return false;
                }
                Err(e) => upstream_failed = Some(e.to_string()),
            }
            None
        };
        if observed {
            finish_request_capture(
                record.as_deref_mut(),
                std::mem::replace(&mut tap, Tap::new(0)),
                request_read,
            );
        }

        // The answer (an upstream that failed mid-request may still have answered, e.g. 413).
        let head = match final_head {
            Some(head) => head,
            None => read_answer_head(&mut conn.stream, &mut conn.buf, &mut rt.stream).await,
        };
        let reply = Reply {
            head_request: req.is_head(),
            close: !request_read || must_close,
        };
        let head = match head {
            Ok(head) => head,
            Err(e) => {
                let error = upstream_failed.unwrap_or(e);
                if let Some(record) = record.as_deref_mut() {
                    record.upstream_error = Some(error.clone());
                }
                return bad_gateway(&mut rt.stream, &self.upstream, &error, reply).await;
            }
        };
        let resp_framing = match head.framing(req.is_head()) {
            Ok(framing) => framing,
            Err(e) => {
                let error = e.to_string();
                let reply = Reply {
                    close: true,
                    ..reply
                };
                bad_gateway(&mut rt.stream, &self.upstream, &error, reply).await;
                return false;
            }
        };
        let mut out = Vec::with_capacity(256);
        if request_read && !must_close {
            head.write_downstream(&mut out, &[]);
        } else {
            // The runtime's connection closes after this answer: say so.
            head.write_downstream(&mut out, &[("connection", b"close")]);
        }
        let mut answer_tap = Tap::new(if record.is_some() {
            UPSTREAM_ANSWER_CAPTURE_BYTES
        } else {
            0
        });
        let Conn { stream, buf } = &mut conn;
        let relayed = relay_body(
            stream,
            buf,
            &mut rt.stream,
            resp_framing,
            &out,
            &mut answer_tap,
            MAX_HEAD_BYTES,
        )
        .await;
        if let Some(record) = record {
            record.upstream_status = Some(head.status());
            record.upstream_body = answer_tap.finish(relayed.is_ok()).0;
        }
        if let Err(e) = &relayed {
            tracing::debug!(error = %e, "an answer could not be relayed whole");
        }
        let whole = relayed.is_ok() && resp_framing != Framing::UntilClose;
        if whole && request_read && upstream_failed.is_none() && !head.closes() {
            *up = Some(conn);
        }
        whole && request_read
    }
}

/// Puts what a tap saw of a result's body (and its trailers) into the record.
fn finish_request_capture(
    record: Option<&mut PendingRecord<ResultRecord>>,
    tap: Tap,
    complete: bool,
) {
    let Some(record) = record else {
        return;
    };
    let (capture, trailers) = tap.finish(complete);
    record.body = capture;
    if let Some(trailers) = trailers {
        let text = |name: &str| {
            trailers
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        if let Some(error_type) = text(names::ERROR_TYPE) {
            record.error_type = Some(error_type);
        }
        record.error_body_trailer = text(names::ERROR_BODY);
    }
}

/// Reads the upstream's final answer head, relaying interim (1xx) answers to the runtime as they come.
async fn read_answer_head<R, W>(
    up: &mut R,
    buf: &mut InBuf,
    rt: &mut W,
) -> Result<ResponseHead, String>
where
    R: AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    loop {
        let head = read_head(up, buf, MAX_HEAD_BYTES, head::parse_response)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the upstream closed the connection without answering".to_owned())?;
        if !head.is_interim() {
            return Ok(head);
        }
        let mut out = Vec::with_capacity(64);
        head.write_downstream(&mut out, &[]);
        rt.write_all(&out).await.map_err(|e| e.to_string())?;
    }
}

/// Reads the final answer head of a `/next`; interim answers are dropped (a GET sends no body, so
/// there is nothing for them to announce).
async fn read_final_head(conn: &mut Conn) -> Result<ResponseHead, String> {
    read_answer_head(&mut conn.stream, &mut conn.buf, &mut tokio::io::sink()).await
}

/// Reads a body whole (raw, as framed) into memory, refusing more than `limit` bytes.
async fn read_whole(conn: &mut Conn, framing: Framing, limit: usize) -> Result<Bytes, RelayError> {
    let mut sink = Bounded::new(limit);
    let Conn { stream, buf } = conn;
    relay_body(
        stream,
        buf,
        &mut sink,
        framing,
        &[],
        &mut Tap::new(0),
        MAX_HEAD_BYTES,
    )
    .await?;
    Ok(Bytes::from(sink.bytes))
}

/// Finishes an orphaned upstream `/next`: the event read whole, and whether the connection is reusable.
async fn fetch_whole(conn: &mut Conn) -> Result<(Fetched, bool), String> {
    let head = read_final_head(conn).await?;
    let received_at = SystemTime::now();
    let framing = head.framing(false).map_err(|e| e.to_string())?;
    let body = read_whole(conn, framing, MAX_KEPT_EVENT_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    let reusable = framing != Framing::UntilClose && !head.closes();
    Ok((
        Fetched {
            head,
            body,
            received_at,
        },
        reusable,
    ))
}

/// Completes when the runtime closes its connection (or it fails). Bytes it sends meanwhile (a
/// pipelined request) are kept for the next exchange.
async fn runtime_left(rt: &mut Conn) {
    loop {
        if rt.buf.bytes.len() > MAX_HEAD_BYTES {
            // Too much sent ahead to keep watching; the exchange goes on regardless.
            std::future::pending::<()>().await;
        }
        match rt.buf.fill(&mut rt.stream, 0).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Holds a runtime's place in the `/next` queue; if the runtime goes away after its event arrived but
/// before it was handed on, the event goes back to the front of the queue.
struct Waiter {
    rx: Option<oneshot::Receiver<FetchResult>>,
    shared: Arc<Shared>,
}

impl Waiter {
    async fn recv(&mut self) -> Option<FetchResult> {
        let rx = self.rx.as_mut()?;
        let result = rx.await.ok();
        self.rx = None;
        result
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(Ok(fetched)) = rx.try_recv() {
                tracing::info!("runtime left /next as its event arrived; event handed on");
                lock(&self.shared.broker).offer(Ok(fetched), true);
            }
        }
    }
}

/// Whether a body may be buffered for transforms: a stated length (and no other framing) within the
/// transform limit and a JSON (or unstated) content type. Streams and large or binary bodies pass
/// through untouched.
fn transformable(fields: &Fields, framing: Framing) -> bool {
    let length_ok = matches!(framing, Framing::Length(n) if n <= MAX_TRANSFORM_BYTES);
    let json = fields
        .get(names::CONTENT_TYPE)
        .is_none_or(|v| v.to_ascii_lowercase().windows(4).any(|w| w == b"json"));
    length_ok && json && fields.get(names::RESPONSE_MODE).is_none()
}

/// Whether the runtime has closed its connection, as far as is known without waiting. Bytes it sent
/// meanwhile are kept for the next exchange. Costs no system call unless the socket was reported
/// readable.
fn runtime_has_left(rt: &mut Conn) -> bool {
    loop {
        if rt.buf.bytes.len() > MAX_HEAD_BYTES {
            return false;
        }
        // Room to read into: an empty buffer would read as the end of the stream.
        rt.buf.bytes.reserve(4096);
        match rt.stream.try_read_buf(&mut rt.buf.bytes) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// Closes a runtime connection lambda-lens gives up on without losing the answer just written: a
/// close with unread input sends a reset, which can discard that answer at the runtime. So the
/// write side is shut first and input read and dropped for a moment.
async fn linger_close(rt: &mut Conn) {
    let _ = rt.stream.shutdown().await;
    let mut drained = 0;
    let drain = async {
        loop {
            rt.buf.bytes.clear();
            match rt.buf.fill(&mut rt.stream, 0).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    drained += n;
                    if drained > LINGER_MAX_BYTES {
                        return;
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_MAX_TIME, drain).await;
}

/// Answers a request lambda-lens could not read (then the connection closes); `head_request` when
/// it was a `HEAD` (no body in the answer).
async fn reject(rt: &mut TcpStream, error: &ReadHeadError, head_request: bool) {
    let (status, reason) = match error {
        ReadHeadError::TooLarge(_) => (431, "Request Header Fields Too Large"),
        ReadHeadError::Head(_) => (400, "Bad Request"),
        ReadHeadError::Io(_) | ReadHeadError::Truncated => return,
    };
    tracing::warn!(%error, status, "rejected a runtime request");
    let body = serde_json::json!({
        "errorMessage": format!("lambda-lens could not read the request: {error}"),
        "errorType": "LambdaLens.BadRequest",
    });
    let reply = Reply {
        head_request,
        close: true,
    };
    let _ = answer(rt, status, reason, &body, reply).await;
}

/// How an answer of lambda-lens's own is shaped.
#[derive(Debug, Clone, Copy, Default)]
struct Reply {
    /// The request was `HEAD`: no body.
    head_request: bool,
    /// The runtime's connection closes after the answer (`Connection: close`).
    close: bool,
}

/// Answers a runtime call lambda-lens could not forward, in the Runtime API's error shape; true when
/// the answer went out and the runtime's connection can carry another request.
async fn bad_gateway(
    rt: &mut TcpStream,
    upstream: &RuntimeApiEndpoint,
    error: &str,
    reply: Reply,
) -> KeepAlive {
    tracing::error!(%upstream, %error, "cannot reach the upstream Runtime API");
    let body = serde_json::json!({
        "errorMessage": format!("lambda-lens could not reach the Runtime API at {upstream}: {error}"),
        "errorType": "LambdaLens.UpstreamUnavailable",
    });
    answer(rt, 502, "Bad Gateway", &body, reply).await.is_ok() && !reply.close
}

/// Writes a JSON answer of lambda-lens's own.
async fn answer(
    rt: &mut TcpStream,
    status: u16,
    reason: &str,
    body: &serde_json::Value,
    reply: Reply,
) -> std::io::Result<()> {
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n",
        body.len(),
        if reply.close { "connection: close\r\n" } else { "" }
    );
    let body = if reply.head_request { "" } else { &body };
    wire::write_two(rt, head.as_bytes(), body.as_bytes()).await
}

/// Locks a mutex, ignoring poisoning: the broker's state stays consistent at every await point.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_runtime_paths() {
        assert!(matches!(
            route("GET", "/2018-06-01/runtime/invocation/next"),
            Route::Next
        ));
        assert!(matches!(
            route("POST", "/2018-06-01/runtime/invocation/abc-1/response"),
            Route::Result(ResultKind::Response, Some(id)) if id.as_str() == "abc-1"
        ));
        assert!(matches!(
            route("POST", "/2018-06-01/runtime/invocation/abc-1/error"),
            Route::Result(ResultKind::Error, Some(id)) if id.as_str() == "abc-1"
        ));
        assert!(matches!(
            route("POST", "/2018-06-01/runtime/init/error"),
            Route::Result(ResultKind::InitError, None)
        ));
        for (m, p) in [
            ("POST", "/2018-06-01/runtime/invocation/next"),
            ("GET", "/2018-06-01/runtime/invocation/a/response"),
            ("POST", "/2018-06-01/runtime/invocation//response"),
            ("POST", "/2018-06-01/runtime/invocation/a/b/response"),
            ("GET", "/2020-01-01/extension/event/next"),
            ("GET", "/"),
        ] {
            assert!(matches!(route(m, p), Route::Other), "{m} {p}");
        }
    }
}
