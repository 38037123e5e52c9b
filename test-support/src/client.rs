//! Calls to the proxy as a runtime's HTTP client makes them (hyper's pooled HTTP/1 client), with
//! the answer read whole.

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// A request body: whole, or streamed frame by frame.
pub type TestBody = BoxBody<Bytes, std::io::Error>;

/// A new HTTP/1 client.
pub fn client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A whole body of `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> TestBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An answer, read whole.
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

/// Sends `req` and reads the answer whole.
pub async fn send(req: Request<TestBody>) -> Answer {
    let resp = client().request(req).await.expect("proxy answers");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("answer body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// `GET /runtime/invocation/next` on the Runtime API at `api` (`host:port`).
pub async fn get_next(api: &str) -> Answer {
    send(
        Request::get(format!("http://{api}/2018-06-01/runtime/invocation/next"))
            .body(full(""))
            .expect("valid request"),
    )
    .await
}

/// `POST` of `body` to `path` on the Runtime API at `api` (`host:port`), with `headers`.
pub async fn post(
    api: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let mut req = Request::post(format!("http://{api}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(req.body(full(body)).expect("valid request")).await
}
