//! The HTTP client OTLP/HTTP exports go through to the collector (or AWS): hyper 1 over
//! hyper-rustls, HTTP/1.1, Nagle off, the trust store of `tls`, and a timeout per request.
//!
//! Only HTTP/1.1 is offered: OTLP/HTTP needs no multiplexing, and AWS's OTLP endpoints speak
//! HTTP/1.1. One client serves every request of an exporter, so connections are kept alive
//! between flushes. The caller bounds each exchange in time (one timer per request, with the
//! flush's deadline).

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::ClientConfig;

use super::tls::{root_store, CaCertificates};

/// Responses are a (possibly empty) `ExportTraceServiceResponse`; anything larger is not OTLP.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Idle connections are closed after this long. Collectors and load balancers close idle
/// keep-alive connections after about a minute; reusing one they already closed would fail a
/// flush (the spans are retried, but a flush is lost).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an exchange with the collector produced no response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// No connection, or it broke before the answer (refused, reset, TLS handshake failed).
    #[error("cannot reach the collector: {0}")]
    Unreachable(#[source] hyper_util::client::legacy::Error),
    /// The answer's body could not be read (or was over the size bound).
    #[error("the collector's answer could not be read: {0}")]
    Body(String),
    /// No complete answer within the request's timeout (set by the caller's timer).
    #[error("export did not finish within {0:?}")]
    TimedOut(Duration),
}

/// A small HTTP client on hyper that needs no blocking thread and no reqwest.
#[derive(Debug, Clone)]
pub(crate) struct CollectorHttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl CollectorHttpClient {
    /// Builds the client; `extra_roots` are trusted besides the bundled roots.
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
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        Self { client }
    }

    /// Sends `request` and reads the whole response.
    pub(crate) async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Bytes>, HttpError> {
        let response = self
            .client
            .request(request)
            .await
            .map_err(HttpError::Unreachable)?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|error| HttpError::Body(error.to_string()))?
            .to_bytes();
        Ok(Response::from_parts(parts, body))
    }
}
