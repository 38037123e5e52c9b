//! lambda-lens's own HTTP with the Lambda platform: the pooled HTTP/1 client for its one-time calls
//! to the Extensions and Telemetry APIs on the Runtime API host (register, subscribe, report an
//! error; keep-alive connections, Nagle off, no timeouts: a call may sit idle across a freeze), the
//! body type of those requests, and the error text of failed exchanges. The call repeated every
//! invocation, the `/event/next` long poll, has a raw connection of its own (`kept_connection`).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

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

/// The body of a request lambda-lens makes itself: fixed bytes.
#[derive(Debug)]
pub struct ApiBody(Full<Bytes>);

impl ApiBody {
    /// A body of fixed bytes.
    pub fn local(bytes: impl Into<Bytes>) -> Self {
        Self(Full::new(bytes.into()))
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
