//! OTLP/HTTP: one signal's requests POSTed as protobuf to its full URL, with the configured
//! headers, gzip when configured (compressed once per batch), and a SigV4 signature when sending
//! to AWS (made afresh for every attempt: the date is part of it).

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Uri};

use super::collector_http::CollectorHttpClient;
use super::headers::header_map;
use crate::export::failure::SendError;
use crate::export::retry_after::RetryAfter;
use crate::export::xray::Signer;
use crate::export::ExportError;
use crate::settings::OtlpSettings;

/// The `User-Agent` of every OTLP/HTTP request, in the form the OTLP exporter specification
/// gives (`OTel-OTLP-Exporter-<language>/<version>`), naming lambda-lens.
const USER_AGENT_VALUE: &str = concat!(
    "OTel-OTLP-Exporter-Rust/",
    env!("CARGO_PKG_VERSION"),
    " lambda-lens"
);

/// One signal's OTLP/HTTP endpoint.
pub(crate) struct HttpSender {
    client: CollectorHttpClient,
    uri: Uri,
    headers: HeaderMap,
    gzip: bool,
    timeout: Duration,
    signer: Option<Arc<Signer>>,
}

impl HttpSender {
    /// Sets `name: value` on every later request; false when `value` is not a valid header value.
    pub(super) fn set_header(&mut self, name: &'static str, value: &str) -> bool {
        match HeaderValue::from_str(value) {
            Ok(value) => {
                self.headers
                    .insert(http::HeaderName::from_static(name), value);
                true
            }
            Err(_) => false,
        }
    }

    /// The sender for `config` over `client`.
    pub(super) fn new(
        config: &OtlpSettings,
        client: CollectorHttpClient,
        signer: Option<Signer>,
    ) -> Result<Self, ExportError> {
        let uri: Uri = config
            .endpoint
            .parse()
            .ok()
            .filter(|uri: &Uri| {
                matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
            })
            .ok_or_else(|| {
                ExportError::Build(format!(
                    "the {} endpoint {:?} is not an http(s) URL",
                    config.signal.name(),
                    config.endpoint
                ))
            })?;
        let mut headers = header_map(&config.headers);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        if config.gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(Self {
            client,
            uri,
            headers,
            gzip: config.gzip,
            timeout: config.timeout,
            signer: signer.map(Arc::new),
        })
    }

    /// The body for an encoded request: gzip-compressed when configured.
    pub(super) fn body(&self, protobuf: Vec<u8>) -> io::Result<Bytes> {
        if !self.gzip {
            return Ok(Bytes::from(protobuf));
        }
        let mut encoder =
            GzEncoder::new(Vec::with_capacity(protobuf.len() / 4), Compression::fast());
        encoder.write_all(&protobuf)?;
        Ok(Bytes::from(encoder.finish()?))
    }

    /// POSTs `body`, waiting at most `timeout`.
    pub(super) async fn send(&self, body: &Bytes, timeout: Duration) -> Result<(), SendError> {
        let mut request = Request::new(body.clone());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        let (mut parts, body) = request.into_parts();
        if let Some(signer) = &self.signer {
            signer.sign(&mut parts, &body, SystemTime::now());
        }
        let response = self
            .client
            .send(Request::from_parts(parts, body), timeout)
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(RetryAfter::parse);
        Err(SendError::Status {
            status,
            retry_after,
        })
    }

    /// The per-request timeout of the settings.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }
}
