//! lambda-lens's own HTTP with the Lambda platform: the pooled HTTP/1 client for its calls to the
//! Extensions and Telemetry APIs on the Runtime API host (keep-alive connections, Nagle off, no
//! timeouts: long polls sit idle across freezes), the single kept connection of a call repeated
//! every invocation, the body type of those requests and of the telemetry listener's answers, and
//! the error text of failed exchanges.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::proxy::MAX_HEAD_BYTES;

/// The client of the Extensions and Telemetry APIs.
pub type PlatformClient = Client<HttpConnector, ApiBody>;

/// Idle connections kept per host. Lambda Managed Instances may run several invocations at once;
/// beyond this, extra connections are closed after use.
const MAX_IDLE_PER_HOST: usize = 32;

/// Builds the pooled client.
pub fn build() -> PlatformClient {
    let mut connector = HttpConnector::new();
    // Small writes (headers, short bodies) must not wait for delayed ACKs.
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
        // The Runtime API never closes idle connections, and a freeze must not expire them.
        .pool_idle_timeout(None)
        // The platform's answers are held to the same head limit as the Runtime API's in the proxy.
        .http1_max_buf_size(MAX_HEAD_BYTES)
        .http1_preserve_header_case(true)
        .build(connector)
}

/// A failed exchange on a [`KeptConnection`].
#[derive(Debug, thiserror::Error)]
pub enum KeptConnectionError {
    /// No TCP connection to the Runtime API host.
    #[error("tcp connect error")]
    Connect(#[source] std::io::Error),
    /// The HTTP/1 connection could not be set up.
    #[error("connection setup failed")]
    Handshake(#[source] hyper::Error),
    /// The request or its answer failed on the wire.
    #[error("request failed")]
    Exchange(#[source] hyper::Error),
}

/// One kept-alive HTTP/1 connection to the Runtime API host, for a call made again and again (the
/// Extensions API long poll): no pool checkout per call. Nagle off, no timeouts and the same head
/// limit as [`build`]'s connections; the answer's header case is not kept, as nothing reads it.
pub struct KeptConnection {
    authority: Authority,
    sender: Option<SendRequest<ApiBody>>,
}

impl KeptConnection {
    /// A connection to `authority`, opened by the first request.
    pub fn new(authority: Authority) -> Self {
        Self {
            authority,
            sender: None,
        }
    }

    /// Sends `req` (origin-form URI, `Host` set) and waits for the answer's head. A kept connection
    /// closed before the request went out is replaced once, as the pooled client does; a new
    /// connection's failure is final.
    pub async fn send(
        &mut self,
        mut req: Request<ApiBody>,
    ) -> Result<Response<Incoming>, KeptConnectionError> {
        // Taken out while in use: a call abandoned half-way leaves no connection in an unknown state.
        if let Some(mut sender) = self.sender.take() {
            match try_send(&mut sender, req).await {
                Ok(resp) => {
                    self.sender = Some(sender);
                    return Ok(resp);
                }
                Err((_, Some(unsent))) => req = unsent,
                Err((e, None)) => return Err(KeptConnectionError::Exchange(e)),
            }
        }
        let mut sender = self.connect().await?;
        let resp = try_send(&mut sender, req)
            .await
            .map_err(|(e, _)| KeptConnectionError::Exchange(e))?;
        self.sender = Some(sender);
        Ok(resp)
    }

    async fn connect(&self) -> Result<SendRequest<ApiBody>, KeptConnectionError> {
        // `Authority::host` keeps an IPv6 literal's brackets; the resolver wants it bare.
        let host = self
            .authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = self.authority.port_u16().unwrap_or(80);
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(KeptConnectionError::Connect)?;
        // Small writes (headers, short bodies) must not wait for delayed ACKs.
        stream
            .set_nodelay(true)
            .map_err(KeptConnectionError::Connect)?;
        let (sender, connection) = http1::Builder::new()
            .max_buf_size(MAX_HEAD_BYTES)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(KeptConnectionError::Handshake)?;
        tokio::spawn(async move {
            // The caller learns of a broken connection through `send`.
            if let Err(e) = connection.await {
                tracing::debug!(error = %error_chain(&e), "a kept platform connection ended");
            }
        });
        Ok(sender)
    }
}

/// One attempt on `sender`; the request comes back when it never went out.
async fn try_send(
    sender: &mut SendRequest<ApiBody>,
    req: Request<ApiBody>,
) -> Result<Response<Incoming>, (hyper::Error, Option<Request<ApiBody>>)> {
    if let Err(e) = sender.ready().await {
        return Err((e, Some(req)));
    }
    sender.try_send_request(req).await.map_err(|mut e| {
        let unsent = e.take_message();
        (e.into_error(), unsent)
    })
}

/// The body of a request (or answer) lambda-lens makes itself: fixed bytes.
#[derive(Debug)]
pub struct ApiBody(Full<Bytes>);

impl ApiBody {
    /// A body of fixed bytes.
    pub fn local(bytes: impl Into<Bytes>) -> Self {
        Self(Full::new(bytes.into()))
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::local(Bytes::new())
    }
}

impl Body for ApiBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
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
