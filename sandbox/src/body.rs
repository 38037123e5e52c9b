//! HTTP plumbing shared by both listeners: the boxed body type, a channel-fed streaming body, JSON
//! response helpers, bounded body reading and the accept loop.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{combinators::BoxBody, BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Body type of every response the sandbox serves.
pub(crate) type HttpBody = BoxBody<Bytes, Infallible>;

/// Largest payload rapid buffers: 6 MiB + 100 bytes.
pub(crate) const MAX_PAYLOAD: usize = 6 * 1024 * 1024 + 100;

/// A body whose frames (data and trailers) arrive through a channel, for pass-through streaming.
pub(crate) struct ChannelBody(pub mpsc::Receiver<Frame<Bytes>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|f| f.map(Ok))
    }
}

/// A complete body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> HttpBody {
    Full::new(bytes.into()).boxed()
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<HttpBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(value.to_string()))
        .expect("static response parts are valid")
}

/// The APIs' error document `{"errorMessage","errorType"}`.
pub(crate) fn error_response(
    status: StatusCode,
    error_type: &str,
    message: &str,
) -> Response<HttpBody> {
    json_response(
        status,
        &json!({"errorMessage": message, "errorType": error_type}),
    )
}

/// `202 {"status":"OK"}`, the Runtime/Extensions APIs' acceptance.
pub(crate) fn accepted() -> Response<HttpBody> {
    json_response(StatusCode::ACCEPTED, &json!({"status": "OK"}))
}

/// Why a bounded body read failed.
pub(crate) enum ReadError {
    TooLarge,
    Truncated,
}

/// Reads a whole request body of at most `limit` bytes.
pub(crate) async fn read_limited(body: Incoming, limit: usize) -> Result<Bytes, ReadError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ReadError::TooLarge),
        Err(_) => Err(ReadError::Truncated),
    }
}

/// Accepts connections forever, serving each with HTTP/1.1 and `handler`.
pub(crate) async fn serve<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(http::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<HttpBody>> + Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let fut = handler(req);
                async move { Ok::<_, Infallible>(fut.await) }
            });
            // Clients (runtimes, extensions, curl) may hang up at any time; that ends the connection only.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
