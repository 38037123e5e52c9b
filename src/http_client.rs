//! The pooled HTTP/1 client lambda-lens uses for its own calls to the Extensions and Telemetry APIs:
//! keep-alive connections, Nagle off, no timeouts (long polls sit idle across freezes).

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::capture::ApiBody;
use crate::proxy::MAX_HEAD_BYTES;

/// The client type shared by the proxy and the lifecycle loop.
pub type HttpClient = Client<HttpConnector, ApiBody>;

/// Idle upstream connections kept per host. Lambda Managed Instances may run several invocations at
/// once; beyond this, extra connections are closed after use.
const MAX_IDLE_PER_HOST: usize = 32;

/// Builds the pooled client.
pub fn build() -> HttpClient {
    let mut connector = HttpConnector::new();
    // Small writes (headers, short bodies) must not wait for delayed ACKs.
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
        // The Runtime API never closes idle connections, and a freeze must not expire them.
        .pool_idle_timeout(None)
        .http1_max_buf_size(MAX_HEAD_BYTES)
        .http1_preserve_header_case(true)
        .build(connector)
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
