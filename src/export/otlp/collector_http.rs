//! The HTTP client OTLP/HTTP exports to `https://` endpoints go through to the collector (or AWS):
//! one kept-alive HTTP/1.1 connection per endpoint, made by hyper-rustls's connector (Nagle off,
//! the trust store of `tls`), driven by the exchange itself. (`http://` endpoints go over
//! `plain_http`, with the same bounds and error kinds.)
//!
//! Only HTTP/1.1 is offered: OTLP/HTTP needs no multiplexing, and AWS's OTLP endpoints speak
//! HTTP/1.1. A signal's requests go one after the other, so one connection per endpoint does what
//! a pool would, without a checkout per request; and the connection is polled by the request that
//! uses it (see `driven`), not by a task of its own. Between flushes nothing polls it: a
//! connection the collector closed meanwhile is noticed (and replaced) when the next request
//! starts. The caller bounds each exchange in time (one timer per request, with the
//! flush's deadline); an exchange cut short drops its connection.

use std::future::poll_fn;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::ClientConfig;
use tokio::time::Instant;
use tower_service::Service;

use super::driven::DrivenConnection;
use super::tls::{root_store, CaCertificates};

/// Answers are a (possibly empty) `Export…ServiceResponse` (or a short error text); a body over
/// this is not OTLP, and the request fails.
pub(super) const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// A kept connection idle for longer is closed instead of reused. Collectors and load balancers
/// close idle keep-alive connections after about a minute; reusing one they already closed would
/// fail a flush (the spans are retried, but a flush is lost).
pub(super) const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// An error of the connector or of hyper.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why an exchange with the collector produced no response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// No connection, or it broke before the answer (refused, reset, TLS handshake failed).
    #[error("cannot reach the collector: {0}")]
    Unreachable(#[source] BoxError),
    /// The answer's body could not be read (or was over the size bound).
    #[error("the collector's answer could not be read: {0}")]
    Body(String),
    /// No complete answer within the request's timeout (set by the caller's timer).
    #[error("export did not finish within {0:?}")]
    TimedOut(Duration),
}

/// What makes connections to collectors: TCP with Nagle off, then TLS for `https` URLs. Cheap to
/// clone; every clone trusts the same roots.
#[derive(Debug, Clone)]
pub(crate) struct CollectorHttpClient {
    connector: HttpsConnector<HttpConnector>,
}

impl CollectorHttpClient {
    /// Builds the connector; `extra_roots` are trusted besides the bundled roots.
    pub(crate) fn new(extra_roots: Option<&CaCertificates>) -> Self {
        let mut http = HttpConnector::new();
        // Export bodies are written in several small writes; they must not wait for delayed ACKs.
        http.set_nodelay(true);
        // The TLS layer below handles `https` URLs; the TCP connector must let them through.
        http.enforce_http(false);
        // `ClientConfig::builder` uses rustls' process-default crypto provider, which is ring: it
        // is the only provider this crate's dependency tree compiles in (hyper-rustls and tonic
        // are both built with `ring` only).
        let tls = ClientConfig::builder()
            .with_root_certificates(root_store(extra_roots))
            .with_no_client_auth();
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Self { connector }
    }

    /// The kept connection to `endpoint` (opened by its first request).
    pub(crate) fn endpoint(&self, endpoint: Uri) -> CollectorConnection {
        CollectorConnection {
            connector: self.connector.clone(),
            endpoint,
            kept: None,
        }
    }
}

/// One endpoint's kept connection.
#[derive(Debug)]
pub(crate) struct CollectorConnection {
    connector: HttpsConnector<HttpConnector>,
    endpoint: Uri,
    /// Boxed: the connection's state (buffers, TLS) is about 2 KiB, moved in and out per request.
    kept: Option<Box<Kept>>,
}

impl CollectorConnection {
    /// Sends `request` (origin-form URI, `Host` set) and reads the whole response; its body is
    /// read to the end (at most [`MAX_RESPONSE_BYTES`]) and not kept. A kept
    /// connection closed before the request went out is replaced once, as a pooled client does; a
    /// new connection's failure is final.
    pub(crate) async fn send(
        &mut self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<Response<()>, HttpError> {
        // Taken out while in use: an exchange abandoned half-way (its timer) leaves no connection
        // in an unknown state.
        let kept = self
            .kept
            .take()
            .filter(|kept| kept.last_used.elapsed() < POOL_IDLE_TIMEOUT);
        if let Some(mut kept) = kept {
            match kept.exchange(request).await {
                Ok(response) => {
                    self.keep(kept);
                    return Ok(response);
                }
                Err(Failed::Unsent(unsent)) => request = *unsent,
                Err(Failed::Broken(error)) => return Err(error),
            }
        }
        let mut kept = self.connect().await?;
        match kept.exchange(request).await {
            Ok(response) => {
                self.keep(kept);
                Ok(response)
            }
            Err(Failed::Unsent(_)) => Err(HttpError::Unreachable(
                "the new connection closed before the request went out".into(),
            )),
            Err(Failed::Broken(error)) => Err(error),
        }
    }

    /// Keeps `kept` for the next request, unless its connection has ended.
    fn keep(&mut self, mut kept: Box<Kept>) {
        if kept.connection.is_open() {
            kept.last_used = Instant::now();
            self.kept = Some(kept);
        }
    }

    async fn connect(&mut self) -> Result<Box<Kept>, HttpError> {
        poll_fn(|cx| self.connector.poll_ready(cx))
            .await
            .map_err(HttpError::Unreachable)?;
        let stream = self
            .connector
            .call(self.endpoint.clone())
            .await
            .map_err(HttpError::Unreachable)?;
        let (sender, connection) = http1::handshake(stream)
            .await
            .map_err(|error| HttpError::Unreachable(error.into()))?;
        Ok(Box::new(Kept {
            sender,
            connection: DrivenConnection::new(connection),
            last_used: Instant::now(),
        }))
    }
}

/// An open HTTP/1 connection: the handle requests go in by, and the connection itself, polled by
/// whoever waits on it.
struct Kept {
    sender: SendRequest<Full<Bytes>>,
    connection: DrivenConnection,
    last_used: Instant,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("open", &self.connection.is_open())
            .field("last_used", &self.last_used)
            .finish()
    }
}

/// Why an exchange on a connection failed.
enum Failed {
    /// The connection had closed before the request went out: it can go on another.
    Unsent(Box<Request<Full<Bytes>>>),
    /// The request may have gone out.
    Broken(HttpError),
}

impl Kept {
    /// Sends `request` and reads the whole response, driving the connection meanwhile.
    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<Response<()>, Failed> {
        // A connection that finished its last exchange is ready (it asked for the next request
        // then); a new one is once polled. A close by the collector since the last exchange is
        // seen below: the close woke the connection, which is then polled before it takes the
        // request, so the request comes back unsent.
        if !self.sender.is_ready() {
            let ready = self
                .connection
                .drive(poll_fn(|cx| self.sender.poll_ready(cx)))
                .await;
            if !matches!(ready, Some(Ok(()))) {
                return Err(Failed::Unsent(Box::new(request)));
            }
        }
        let answer = pin!(self.sender.try_send_request(request));
        let response = match self.connection.drive(answer).await {
            Some(Ok(response)) => response,
            Some(Err(mut error)) => {
                return Err(match error.take_message() {
                    Some(unsent) => Failed::Unsent(Box::new(unsent)),
                    None => Failed::Broken(HttpError::Unreachable(error.into_error().into())),
                });
            }
            None => {
                return Err(Failed::Broken(HttpError::Unreachable(
                    "the connection closed before the answer".into(),
                )))
            }
        };
        let (parts, body) = response.into_parts();
        if body.is_end_stream() {
            // No body (`content-length: 0`, the usual OTLP success): nothing to wait for.
            return Ok(Response::from_parts(parts, ()));
        }
        match self.connection.drive(pin!(drain(body))).await {
            Some(Ok(())) => Ok(Response::from_parts(parts, ())),
            Some(Err(error)) => Err(Failed::Broken(HttpError::Body(error))),
            None => Err(Failed::Broken(HttpError::Body(
                "the connection closed before the end of the answer".to_owned(),
            ))),
        }
    }
}

/// Reads `body` to its end, as the connection must before its next request, keeping nothing: what
/// the exporter reads of an answer is its status and headers.
async fn drain(mut body: Incoming) -> Result<(), String> {
    let mut read = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| error.to_string())?;
        if let Some(data) = frame.data_ref() {
            read += data.len();
            if read > MAX_RESPONSE_BYTES {
                return Err(over_limit());
            }
        }
    }
    Ok(())
}

/// Why an answer whose body is over [`MAX_RESPONSE_BYTES`] fails.
pub(super) fn over_limit() -> String {
    format!("the answer is over {MAX_RESPONSE_BYTES} bytes")
}

/// The client over plain TCP: how it keeps, replaces and fails connections does not depend on
/// TLS, which `tests/export.rs` and `tests/xray_export.rs` exercise end to end.
#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::export::failure::SendError;

    /// A collector answering `200` to every request; it closes each connection after its first
    /// answer when `close_after_answer`. Returns its URL, the connections it accepted and the
    /// requests it read (each its head and body).
    async fn collector(
        close_after_answer: bool,
    ) -> (Uri, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!(
            "http://{}/v1/traces",
            listener.local_addr().expect("an address")
        );
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (count, seen) = (accepted.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let mut chunk = [0; 4096];
                        let read = socket.read(&mut chunk).await.unwrap_or(0);
                        if read == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..read]);
                        let text = String::from_utf8_lossy(&buf).into_owned();
                        let Some((head, body)) = text.split_once("\r\n\r\n") else {
                            continue;
                        };
                        let length: usize = head
                            .lines()
                            .find_map(|line| line.strip_prefix("content-length: "))
                            .and_then(|value| value.parse().ok())
                            .unwrap_or(0);
                        if body.len() < length {
                            continue;
                        }
                        seen.lock().expect("not poisoned").push(text.clone());
                        buf.clear();
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if socket.write_all(answer).await.is_err() || close_after_answer {
                            return;
                        }
                    }
                });
            }
        });
        (url.parse().expect("a URL"), accepted, requests)
    }

    fn request(uri: &Uri, body: &'static str) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(Bytes::from_static(body.as_bytes())));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri.path().parse().expect("a path");
        request.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_str(uri.authority().expect("an authority").as_str())
                .expect("a header value"),
        );
        request
    }

    #[tokio::test]
    async fn requests_share_one_connection_and_go_out_as_given() {
        let (uri, accepted, requests) = collector(false).await;
        let mut connection = CollectorHttpClient::new(None).endpoint(uri.clone());
        for body in ["first", "second", "third"] {
            let response = connection
                .send(request(&uri, body))
                .await
                .expect("answered");
            assert_eq!(response.status(), 200);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        let host = uri.authority().expect("an authority").as_str().to_owned();
        assert_eq!(
            *requests.lock().expect("not poisoned"),
            ["first", "second", "third"].map(|body| format!(
                "POST /v1/traces HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            ))
        );
    }

    #[tokio::test]
    async fn a_connection_the_collector_closed_is_replaced() {
        let (uri, accepted, requests) = collector(true).await;
        let mut connection = CollectorHttpClient::new(None).endpoint(uri.clone());
        for body in ["first", "second"] {
            let response = connection
                .send(request(&uri, body))
                .await
                .expect("answered");
            assert_eq!(response.status(), 200);
            // The collector's close reaches the client before the next request.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(requests.lock().expect("not poisoned").len(), 2);
    }

    #[tokio::test]
    async fn a_refused_connection_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let uri: Uri = format!(
            "http://{}/v1/traces",
            listener.local_addr().expect("an address")
        )
        .parse()
        .expect("a URL");
        drop(listener);
        let mut connection = CollectorHttpClient::new(None).endpoint(uri.clone());
        let error = connection
            .send(request(&uri, "x"))
            .await
            .expect_err("refused");
        assert!(matches!(error, HttpError::Unreachable(_)), "{error:?}");
        assert!(SendError::Http(error).is_refused_connection());
    }
}
