//! The HTTP client X-Ray export goes through: the collector client with every request
//! SigV4-signed just before it is sent.
//!
//! opentelemetry-otlp still builds (and compresses) the protobuf body; the signature covers those
//! exact bytes, `content-encoding` included, at the moment the request is sent, so a request
//! re-sent by a later flush carries a fresh date.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};

use super::sigv4::Signer;
use crate::export::otlp::CollectorHttpClient;

/// The [`CollectorHttpClient`] with every request SigV4-signed just before it is sent.
#[derive(Debug, Clone)]
pub(crate) struct SigningHttpClient {
    inner: CollectorHttpClient,
    signer: Arc<Signer>,
}

impl SigningHttpClient {
    /// Signs every request `inner` sends with `signer`.
    pub(crate) fn new(inner: CollectorHttpClient, signer: Signer) -> Self {
        Self {
            inner,
            signer: Arc::new(signer),
        }
    }
}

// Written out instead of `#[async_trait]`, as for `CollectorHttpClient`.
impl HttpClient for SigningHttpClient {
    fn send_bytes<'client, 'async_trait>(
        &'client self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'async_trait>>
    where
        'client: 'async_trait,
        Self: 'async_trait,
    {
        let (mut parts, body) = request.into_parts();
        // The body is final here: opentelemetry-otlp has already compressed it.
        self.signer.sign(&mut parts, &body, SystemTime::now());
        Box::pin(self.inner.send(Request::from_parts(parts, body)))
    }
}
