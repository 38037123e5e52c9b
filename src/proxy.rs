//! The Runtime API proxy: the function's runtime talks to this listener instead of the Runtime API.
//!
//! Every request is forwarded to the upstream Runtime API and every answer back, status, headers
//! (case kept, unknown ones included), bodies and trailers streamed frame by frame. Only hop-by-hop
//! headers are dropped and `Host` names the upstream, as HTTP requires of a proxy. Along the way the
//! proxy tees the bodies (see [`crate::capture`]) and sends [`ProxyRecord`]s to the owner task.
//!
//! `/next` is a long poll that may outlive the runtime's connection (a runtime can be killed while it
//! waits). Upstream `/next` calls therefore run in their own tasks, and an event that arrives for a
//! runtime connection that has gone is kept and handed to the next `/next` instead of being lost.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::capture::{capture_whole, CaptureSink, ProxyBody, TeeBody};
use crate::config::RuntimeApiEndpoint;
use crate::http_client::HttpClient;
use crate::record::{
    BodyCapture, InvocationRecord, PendingRecord, ProxyRecord, RecordSender, RequestId, ResultKind,
    ResultRecord, SpanIdentity,
};
use crate::transform::{Direction, TransformContext, Transforms, MAX_TRANSFORM_BYTES};

/// Invocations whose span identity is kept for response transforms (concurrent invocations).
const MAX_TRANSFORM_SPANS: usize = 1024;
/// Bytes kept of the upstream's answer to a result (`{"status":"OK"}` or an error JSON).
const UPSTREAM_ANSWER_CAPTURE_BYTES: usize = 1024;
/// Request-head buffer: the real Runtime API (Go's net/http) accepts 1 MiB of headers, and runtimes
/// send X-Ray error causes of up to 1 MiB in a header.
pub(crate) const MAX_HEAD_BYTES: usize = 1024 * 1024 + 64 * 1024;
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop cannot spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(10);

const RUNTIME_PREFIX: &str = "/2018-06-01/runtime/";
const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";

/// Runtime API header names the proxy reads, built once (no name parsing per request).
mod names {
    use http::header::HeaderName;

    pub static REQUEST_ID: HeaderName = HeaderName::from_static("lambda-runtime-aws-request-id");
    pub static DEADLINE_MS: HeaderName = HeaderName::from_static("lambda-runtime-deadline-ms");
    pub static INVOKED_ARN: HeaderName =
        HeaderName::from_static("lambda-runtime-invoked-function-arn");
    pub static TRACE_ID: HeaderName = HeaderName::from_static("lambda-runtime-trace-id");
    pub static CLIENT_CONTEXT: HeaderName =
        HeaderName::from_static("lambda-runtime-client-context");
    pub static COGNITO_IDENTITY: HeaderName =
        HeaderName::from_static("lambda-runtime-cognito-identity");
    pub static TENANT_ID: HeaderName = HeaderName::from_static("lambda-runtime-aws-tenant-id");
    pub static RESPONSE_MODE: HeaderName =
        HeaderName::from_static("lambda-runtime-function-response-mode");
    pub static ERROR_TYPE: HeaderName =
        HeaderName::from_static("lambda-runtime-function-error-type");
    pub static ERROR_BODY: HeaderName =
        HeaderName::from_static("lambda-runtime-function-error-body");
    pub static XRAY_ERROR_CAUSE: HeaderName =
        HeaderName::from_static("lambda-runtime-function-xray-error-cause");
    pub static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
    pub static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
}

/// The proxy: cheap to clone, all clones share one upstream pool and one record queue.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

struct Shared {
    client: HttpClient,
    upstream: RuntimeApiEndpoint,
    /// `Host` for upstream requests, built once.
    upstream_host: HeaderValue,
    /// The upstream `/next` URI, the most frequent call, built once.
    next_uri: http::Uri,
    capture_bytes: usize,
    records: RecordSender,
    broker: Mutex<NextBroker>,
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

/// An upstream `/next` answer and when its headers arrived.
struct Fetched {
    parts: http::response::Parts,
    body: EventBody,
    received_at: SystemTime,
}

/// The body of an upstream `/next` answer: still streaming, or read whole for event transforms — in
/// the fetch task, so that a runtime leaving meanwhile cannot lose the event.
enum EventBody {
    Streaming(Incoming),
    Buffered(Bytes),
}

/// An upstream `/next` answer, or why there is none.
type FetchResult = Result<Fetched, String>;

/// Matches upstream `/next` answers with runtime `/next` calls, by arrival, never losing one.
#[derive(Default)]
struct NextBroker {
    /// Answers whose runtime connection went away, oldest first.
    ready: VecDeque<Fetched>,
    /// Runtime calls waiting for an answer.
    waiting: VecDeque<oneshot::Sender<FetchResult>>,
    /// Upstream calls under way.
    in_flight: usize,
}

impl NextBroker {
    /// Hands an upstream answer to the first runtime still waiting, else keeps it for the next
    /// `/next` (at the front when it was already handed out once, to keep arrival order).
    fn offer(&mut self, mut result: FetchResult, returned: bool) {
        while let Some(tx) = self.waiting.pop_front() {
            match tx.send(result) {
                Ok(()) => return,
                Err(unsent) => result = unsent,
            }
        }
        match result {
            Ok(fetched) if returned => self.ready.push_front(fetched),
            Ok(fetched) => self.ready.push_back(fetched),
            Err(error) => tracing::warn!(%error, "upstream /next failed with no runtime waiting"),
        }
    }
}

enum Route {
    Next,
    Result(ResultKind, Option<RequestId>),
    Other,
}

fn route(method: &Method, path: &str) -> Route {
    let Some(rest) = path.strip_prefix(RUNTIME_PREFIX) else {
        return Route::Other;
    };
    if method == Method::GET && rest == "invocation/next" {
        return Route::Next;
    }
    if method != Method::POST {
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

impl Proxy {
    /// A proxy forwarding to `upstream`, keeping `capture_bytes` of each body, reporting to `records`.
    pub fn new(
        client: HttpClient,
        upstream: RuntimeApiEndpoint,
        capture_bytes: usize,
        records: RecordSender,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                client,
                upstream_host: HeaderValue::from_str(upstream.authority().as_str())
                    .expect("a parsed authority is a valid header value"),
                next_uri: upstream.uri(NEXT_PATH),
                upstream,
                capture_bytes,
                records,
                broker: Mutex::new(NextBroker::default()),
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
        let mut builder = http1::Builder::new();
        builder
            .preserve_header_case(true)
            .max_buf_size(MAX_HEAD_BYTES)
            // hyper's default of 100 headers is kept: any explicit limit moves header parsing from
            // a stack array to a heap buffer initialised for every message (measured: the top
            // user-space cost of a round trip at 1000). Runtime API calls carry about ten.
            // The upstream's own Date header is forwarded; the proxy must not add one.
            .auto_date_header(false);
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
            let shared = Arc::clone(&self.shared);
            let conn = builder.serve_connection(
                TokioIo::new(stream),
                service_fn(move |req| {
                    let shared = Arc::clone(&shared);
                    async move { Ok::<_, Infallible>(shared.handle(req).await) }
                }),
            );
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "runtime connection ended with an error");
                }
            });
        }
    }
}

impl Shared {
    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<ProxyBody> {
        match route(req.method(), req.uri().path()) {
            Route::Next => self.next(req).await,
            Route::Result(kind, request_id) => self.result(kind, request_id, req).await,
            Route::Other => self.forward(req).await,
        }
    }

    /// Rewrites a runtime request so it can be sent upstream.
    fn upstream_request(
        &self,
        req: Request<Incoming>,
        body: impl FnOnce(Incoming) -> TeeBody,
    ) -> Request<ProxyBody> {
        let (mut parts, incoming) = req.into_parts();
        self.to_upstream(&mut parts);
        Request::from_parts(parts, ProxyBody::Stream(body(incoming)))
    }

    /// Points a runtime request's head at the upstream.
    fn to_upstream(&self, parts: &mut http::request::Parts) {
        let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        parts.uri = if path_and_query == NEXT_PATH {
            self.next_uri.clone()
        } else {
            self.upstream.uri(path_and_query)
        };
        parts.version = Version::HTTP_11;
        // Overwrite in place: removing would let HeaderMap move another header into its slot.
        parts
            .headers
            .insert(header::HOST, self.upstream_host.clone());
        strip_hop_by_hop(&mut parts.headers);
    }

    /// Runs the transforms for `direction` over a whole body; on a change, `Content-Length` follows.
    fn transformed(
        &self,
        direction: Direction,
        bytes: Bytes,
        ctx: &TransformContext,
        headers: &mut HeaderMap,
    ) -> Bytes {
        match self.transforms.apply(direction, &bytes, ctx) {
            Some(changed) => {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(changed.len()));
                Bytes::from(changed)
            }
            None => bytes,
        }
    }

    async fn forward(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        match self
            .client
            .request(self.upstream_request(req, TeeBody::plain))
            .await
        {
            Ok(resp) => passthrough(resp),
            Err(e) => bad_gateway(&self.upstream, &error_chain(&e)),
        }
    }

    async fn next(self: &Arc<Self>, req: Request<Incoming>) -> Response<ProxyBody> {
        let queued = lock(&self.broker).ready.pop_front();
        if let Some(fetched) = queued {
            return self.deliver_event(fetched);
        }
        let rx = {
            let mut broker = lock(&self.broker);
            broker.waiting.retain(|tx| !tx.is_closed());
            let (tx, rx) = oneshot::channel();
            broker.waiting.push_back(tx);
            // Adopt an upstream call left by a runtime that went away instead of starting a second
            // one: a second concurrent /next would be an invalid state transition upstream.
            if broker.in_flight < broker.waiting.len() {
                broker.in_flight += 1;
                let upstream_req = self.upstream_request(req, TeeBody::plain);
                tokio::spawn(Arc::clone(self).fetch_next(upstream_req));
            }
            rx
        };
        let mut waiter = Waiter {
            rx: Some(rx),
            shared: Arc::clone(self),
        };
        match waiter.recv().await {
            Some(Ok(fetched)) => self.deliver_event(fetched),
            Some(Err(error)) => bad_gateway(&self.upstream, &error),
            None => bad_gateway(&self.upstream, "the upstream /next call was abandoned"),
        }
    }

    async fn fetch_next(self: Arc<Self>, req: Request<ProxyBody>) {
        let result = match self.client.request(req).await {
            Ok(response) => {
                let received_at = SystemTime::now();
                let (parts, body) = response.into_parts();
                let buffer = self.transforms.any(Direction::Event)
                    && parts.status == StatusCode::OK
                    && transformable(&parts.headers);
                let body = if buffer {
                    body.collect()
                        .await
                        .map(|collected| EventBody::Buffered(collected.to_bytes()))
                        .map_err(|e| error_chain(&e))
                } else {
                    Ok(EventBody::Streaming(body))
                };
                body.map(|body| Fetched {
                    parts,
                    body,
                    received_at,
                })
            }
            Err(e) => Err(error_chain(&e)),
        };
        let mut broker = lock(&self.broker);
        broker.in_flight -= 1;
        broker.offer(result, false);
    }

    fn deliver_event(&self, fetched: Fetched) -> Response<ProxyBody> {
        let Fetched {
            mut parts,
            body,
            received_at,
        } = fetched;
        strip_hop_by_hop(&mut parts.headers);
        let request_id = header_string(&parts.headers, &names::REQUEST_ID);
        let Some(request_id) = request_id.filter(|_| parts.status == StatusCode::OK) else {
            if parts.status == StatusCode::OK {
                tracing::warn!("upstream /next answered without a request id; not recorded");
            }
            return Response::from_parts(parts, unobserved(body));
        };
        let h = &parts.headers;
        let trace_header = header_string(h, &names::TRACE_ID);
        let record = InvocationRecord {
            request_id: RequestId::new(request_id),
            deadline_ms: header_string(h, &names::DEADLINE_MS).and_then(|v| v.trim().parse().ok()),
            invoked_function_arn: header_string(h, &names::INVOKED_ARN),
            trace_header: trace_header.clone(),
            client_context: header_string(h, &names::CLIENT_CONTEXT),
            cognito_identity: header_string(h, &names::COGNITO_IDENTITY),
            tenant_id: header_string(h, &names::TENANT_ID),
            content_type: header_string(h, &header::CONTENT_TYPE),
            upstream_status: parts.status.as_u16(),
            received_at,
            event: BodyCapture::default(),
            span: SpanIdentity::new(trace_header.as_deref(), received_at),
        };
        if self.transforms.any(Direction::Response) {
            self.transform_spans.remember(
                record.request_id.clone(),
                record.span,
                record.received_at,
            );
        }
        let span = record.span;
        let pending = PendingRecord::new(ProxyRecord::Invocation(record), self.records.clone());
        let body = match body {
            EventBody::Buffered(bytes) => {
                let ctx = TransformContext {
                    span,
                    received_at,
                    now: SystemTime::now(),
                };
                let bytes = self.transformed(Direction::Event, bytes, &ctx, &mut parts.headers);
                let capture = capture_whole(&bytes, self.capture_bytes);
                pending.update(|r| {
                    if let ProxyRecord::Invocation(inv) = r {
                        inv.event = capture;
                    }
                });
                return Response::from_parts(parts, ProxyBody::local(bytes));
            }
            EventBody::Streaming(body) => body,
        };
        let body = TeeBody::tapped(
            body,
            self.capture_bytes,
            Box::new(move |capture, _trailers| {
                pending.update(|r| {
                    if let ProxyRecord::Invocation(inv) = r {
                        inv.event = capture;
                    }
                });
            }),
        );
        Response::from_parts(parts, ProxyBody::Stream(body))
    }

    async fn result(
        &self,
        kind: ResultKind,
        request_id: Option<RequestId>,
        req: Request<Incoming>,
    ) -> Response<ProxyBody> {
        let h = req.headers();
        let record = ResultRecord {
            kind,
            request_id,
            started_at: SystemTime::now(),
            streaming: header_string(h, &names::RESPONSE_MODE)
                .is_some_and(|m| m.eq_ignore_ascii_case("streaming")),
            content_type: header_string(h, &header::CONTENT_TYPE),
            error_type: header_string(h, &names::ERROR_TYPE),
            error_body_trailer: None,
            xray_error_cause: header_string(h, &names::XRAY_ERROR_CAUSE)
                .map(|c| truncate_on_char_boundary(c, self.capture_bytes)),
            body: BodyCapture::default(),
            upstream_status: None,
            upstream_error: None,
            upstream_body: BodyCapture::default(),
        };
        let pending = PendingRecord::new(ProxyRecord::Result(record), self.records.clone());

        let body_pending = Arc::clone(&pending);
        let sink: CaptureSink = Box::new(move |capture, trailers| {
            body_pending.update(|r| {
                if let ProxyRecord::Result(res) = r {
                    res.body = capture;
                    if let Some(trailers) = trailers {
                        if let Some(t) = header_string(&trailers, &names::ERROR_TYPE) {
                            res.error_type = Some(t);
                        }
                        res.error_body_trailer = header_string(&trailers, &names::ERROR_BODY);
                    }
                }
            });
        });
        let limit = self.capture_bytes;
        let remembered = match (&kind, pending_request_id(&pending)) {
            (ResultKind::Response, Some(id))
                if self.transforms.any(Direction::Response) && transformable(req.headers()) =>
            {
                self.transform_spans.take(&id)
            }
            _ => None,
        };
        let mut upstream_req = match remembered {
            Some((span, received_at)) => {
                let (mut parts, body) = req.into_parts();
                let bytes = match body.collect().await {
                    Ok(collected) => collected.to_bytes(),
                    Err(e) => return bad_request(&error_chain(&e)),
                };
                let ctx = TransformContext {
                    span,
                    received_at,
                    now: SystemTime::now(),
                };
                self.to_upstream(&mut parts);
                let bytes = self.transformed(Direction::Response, bytes, &ctx, &mut parts.headers);
                sink(capture_whole(&bytes, limit), None);
                Request::from_parts(parts, ProxyBody::local(bytes))
            }
            None => self.upstream_request(req, |b| TeeBody::tapped(b, limit, sink)),
        };
        declare_error_trailers(upstream_req.headers_mut());

        match self.client.request(upstream_req).await {
            Ok(resp) => {
                let (mut parts, body) = resp.into_parts();
                let status = parts.status.as_u16();
                strip_hop_by_hop(&mut parts.headers);
                let body = TeeBody::tapped(
                    body,
                    UPSTREAM_ANSWER_CAPTURE_BYTES,
                    Box::new(move |capture, _trailers| {
                        pending.update(|r| {
                            if let ProxyRecord::Result(res) = r {
                                res.upstream_status = Some(status);
                                res.upstream_body = capture;
                            }
                        });
                    }),
                );
                Response::from_parts(parts, ProxyBody::Stream(body))
            }
            Err(e) => {
                pending.update(|r| {
                    if let ProxyRecord::Result(res) = r {
                        res.upstream_error = Some(error_chain(&e));
                    }
                });
                bad_gateway(&self.upstream, &error_chain(&e))
            }
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

/// An event body forwarded without observation.
fn unobserved(body: EventBody) -> ProxyBody {
    match body {
        EventBody::Streaming(body) => ProxyBody::Stream(TeeBody::plain(body)),
        EventBody::Buffered(bytes) => ProxyBody::local(bytes),
    }
}

fn passthrough(resp: Response<Incoming>) -> Response<ProxyBody> {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, ProxyBody::Stream(TeeBody::plain(body)))
}

/// Whether a body may be buffered for transforms: a stated length within Lambda's payload limit and
/// a JSON (or unstated) content type. Streams and large or binary bodies pass through untouched.
fn transformable(headers: &HeaderMap) -> bool {
    let length_ok = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n <= MAX_TRANSFORM_BYTES);
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.to_ascii_lowercase().contains("json"));
    length_ok && json && !headers.contains_key(&names::RESPONSE_MODE)
}

fn pending_request_id(pending: &PendingRecord) -> Option<RequestId> {
    let mut id = None;
    pending.update(|r| {
        if let ProxyRecord::Result(res) = r {
            id = res.request_id.clone();
        }
    });
    id
}

/// Answer for a runtime request whose body could not be read.
fn bad_request(error: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({
        "errorMessage": format!("lambda-lens could not read the request body: {error}"),
        "errorType": "TruncatedHTTPRequest",
    });
    let mut resp = Response::new(ProxyBody::local(body.to_string()));
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Answer for a runtime call lambda-lens could not forward, in the Runtime API's error shape.
fn bad_gateway(upstream: &RuntimeApiEndpoint, error: &str) -> Response<ProxyBody> {
    tracing::error!(%upstream, %error, "cannot reach the upstream Runtime API");
    let body = serde_json::json!({
        "errorMessage": format!("lambda-lens could not reach the Runtime API at {upstream}: {error}"),
        "errorType": "LambdaLens.UpstreamUnavailable",
    });
    let mut resp = Response::new(ProxyBody::local(body.to_string()));
    *resp.status_mut() = StatusCode::BAD_GATEWAY;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Removes the headers that describe one connection rather than the message (RFC 9110 §7.6.1).
/// `Transfer-Encoding` and `Trailer` stay: they tell the next hop to keep chunked framing and which
/// trailers follow, which streaming responses depend on.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(header::CONNECTION) {
        let listed: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in listed {
            headers.remove(name);
        }
        headers.remove(header::CONNECTION);
    }
    for name in [
        &header::TE,
        &header::UPGRADE,
        &header::PROXY_AUTHENTICATE,
        &header::PROXY_AUTHORIZATION,
        &names::KEEP_ALIVE,
        &names::PROXY_CONNECTION,
    ] {
        // A lookup first: `remove` would also cost a lookup, and most messages have none of these.
        if headers.contains_key(name) {
            headers.remove(name);
        }
    }
}

/// HTTP/1 clients (hyper's included) send only the trailers a `Trailer` header declared, while the
/// Runtime API also accepts undeclared ones. A chunked result without a declaration would lose its
/// error trailers on the way, so the proxy declares the two Lambda ones; it is the only header it adds.
fn declare_error_trailers(headers: &mut HeaderMap) {
    let chunked = headers
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked && !headers.contains_key(header::TRAILER) {
        headers.insert(
            header::TRAILER,
            HeaderValue::from_static(
                "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
            ),
        );
    }
}

/// Locks a mutex, ignoring poisoning: the broker's state stays consistent at every await point.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn header_string(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn truncate_on_char_boundary(mut s: String, limit: usize) -> String {
    if s.len() > limit {
        let mut cut = limit;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// An error with its causes, `a: b: c`, since hyper's top-level messages say little.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_runtime_paths() {
        assert!(matches!(
            route(&Method::GET, "/2018-06-01/runtime/invocation/next"),
            Route::Next
        ));
        assert!(matches!(
            route(&Method::POST, "/2018-06-01/runtime/invocation/abc-1/response"),
            Route::Result(ResultKind::Response, Some(id)) if id.as_str() == "abc-1"
        ));
        assert!(matches!(
            route(&Method::POST, "/2018-06-01/runtime/invocation/abc-1/error"),
            Route::Result(ResultKind::Error, Some(id)) if id.as_str() == "abc-1"
        ));
        assert!(matches!(
            route(&Method::POST, "/2018-06-01/runtime/init/error"),
            Route::Result(ResultKind::InitError, None)
        ));
        for (m, p) in [
            (Method::POST, "/2018-06-01/runtime/invocation/next"),
            (Method::GET, "/2018-06-01/runtime/invocation/a/response"),
            (Method::POST, "/2018-06-01/runtime/invocation//response"),
            (Method::POST, "/2018-06-01/runtime/invocation/a/b/response"),
            (Method::GET, "/2020-01-01/extension/event/next"),
            (Method::GET, "/"),
        ] {
            assert!(matches!(route(&m, p), Route::Other), "{m} {p}");
        }
    }

    #[test]
    fn hop_by_hop_headers_go_end_to_end_headers_stay() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-hop"),
            ("keep-alive", "timeout=5"),
            ("x-hop", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("trailer", "Lambda-Runtime-Function-Error-Type"),
            ("lambda-runtime-aws-tenant-id", "t-1"),
            ("content-type", "application/json"),
        ] {
            h.append(k, HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h);
        let mut left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(
            left,
            [
                "content-type",
                "lambda-runtime-aws-tenant-id",
                "trailer",
                "transfer-encoding"
            ]
        );
    }

    #[test]
    fn truncation_respects_utf8() {
        assert_eq!(truncate_on_char_boundary("héllo".into(), 2), "h");
        assert_eq!(truncate_on_char_boundary("abc".into(), 5), "abc");
    }
}
