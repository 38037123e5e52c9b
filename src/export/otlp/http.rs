//! OTLP/HTTP: one signal's requests POSTed as protobuf to its full URL, with the configured
//! headers, gzip when configured (compressed once per batch), and a SigV4 signature when sending
//! to AWS (made afresh for every attempt: the date is part of it); over the kept raw connection
//! for `http://` endpoints (`plain_http`), through hyper and rustls for `https://` ones
//! (`collector_http`).

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http::header::{Entry, CONTENT_ENCODING, CONTENT_TYPE, HOST, RETRY_AFTER, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::Full;

use super::collector_http::{CollectorConnection, CollectorHttpClient};
use super::headers::header_map;
use super::plain_http::PlainConnection;
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
    connection: Connection,
    /// The endpoint, signed as it is.
    uri: Uri,
    /// Its path and query: what an HTTP/1 request line carries.
    origin: Uri,
    headers: HeaderMap,
    gzip: bool,
    timeout: Duration,
    signer: Option<Arc<Signer>>,
}

/// Where an endpoint's requests go.
enum Connection {
    /// `http://`: the kept raw connection.
    Plain(PlainConnection),
    /// `https://`: hyper over rustls.
    Tls(CollectorConnection),
}

impl HttpSender {
    /// Sets `name: value` on every later request; false when `value` is not a valid header value.
    pub(super) fn set_header(&mut self, name: &'static str, value: &str) -> bool {
        match HeaderValue::from_str(value) {
            Ok(value) => {
                self.headers
                    .insert(http::HeaderName::from_static(name), value);
                if let Connection::Plain(plain) = &mut self.connection {
                    plain.set_headers(&self.headers);
                }
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
        // Set once here, or hyper (or the signer) would build it for every request; a configured
        // one stays, as it would.
        if let (Entry::Vacant(entry), Some(host)) =
            (headers.entry(HOST), host(&uri, signer.is_some()))
        {
            entry.insert(host);
        }
        let origin = origin_form(&uri);
        let connection = match (uri.scheme_str(), uri.authority()) {
            (Some("http"), Some(authority)) => {
                Connection::Plain(PlainConnection::new(authority, origin.clone(), &headers))
            }
            _ => Connection::Tls(client.endpoint(uri.clone())),
        };
        Ok(Self {
            connection,
            origin,
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

    /// POSTs `body` (the caller bounds the wait).
    pub(super) async fn send(&mut self, body: &Bytes) -> Result<(), SendError> {
        let (status, retry_after) = match &mut self.connection {
            Connection::Plain(plain) => {
                let signed = self
                    .signer
                    .as_ref()
                    .map(|signer| signed_parts(&self.headers, &self.uri, signer, body).headers);
                let answer = plain.send(signed.as_ref(), body).await?;
                let retry_after = answer
                    .fields
                    .get(RETRY_AFTER.as_str())
                    .and_then(|value| std::str::from_utf8(value).ok())
                    .and_then(RetryAfter::parse);
                (answer.status, retry_after)
            }
            Connection::Tls(tls) => {
                let mut parts = match &self.signer {
                    Some(signer) => signed_parts(&self.headers, &self.uri, signer, body),
                    None => unsigned_parts(&self.headers),
                };
                parts.uri = self.origin.clone();
                // Boxed: the exchange's state (hyper's answer, the body being read) is a few KiB,
                // which would otherwise be copied each time the futures around it (the timer, the
                // flush) move.
                let response =
                    Box::pin(tls.send(Request::from_parts(parts, Full::new(body.clone())))).await?;
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(RetryAfter::parse);
                (response.status(), retry_after)
            }
        };
        if status.is_success() {
            return Ok(());
        }
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

/// A POST with `headers`.
fn unsigned_parts(headers: &HeaderMap) -> http::request::Parts {
    let mut request = Request::new(());
    *request.method_mut() = Method::POST;
    *request.headers_mut() = headers.clone();
    request.into_parts().0
}

/// A POST of `body` to `uri` with `headers`, signed by `signer` now.
fn signed_parts(
    headers: &HeaderMap,
    uri: &Uri,
    signer: &Signer,
    body: &Bytes,
) -> http::request::Parts {
    let mut parts = unsigned_parts(headers);
    parts.uri = uri.clone();
    signer.sign(&mut parts, body, SystemTime::now());
    parts
}

/// The request target of every request to `uri` (its path and query, `/` when it has none), as a
/// pooled client would write it.
fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(path) if path.as_str() != "/" => {
            let mut parts = http::uri::Parts::default();
            parts.path_and_query = Some(path.clone());
            Uri::from_parts(parts).unwrap_or_default()
        }
        _ => Uri::default(),
    }
}

/// The `Host` header of every request to `uri`, as it would otherwise be set on each one: the
/// URI's authority when requests are signed (the signer's rule), else its host and any port other
/// than the scheme's default (hyper's rule).
fn host(uri: &Uri, signed: bool) -> Option<HeaderValue> {
    let authority = uri.authority()?;
    if signed {
        return HeaderValue::from_str(authority.as_str()).ok();
    }
    let secure = uri.scheme_str() == Some("https");
    match authority.port() {
        Some(port) if !matches!((port.as_u16(), secure), (443, true) | (80, false)) => {
            HeaderValue::from_str(&format!("{}:{port}", authority.host())).ok()
        }
        _ => HeaderValue::from_str(authority.host()).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_header_is_what_hyper_or_the_signer_would_set() {
        let host_of = |uri: &str, signed| {
            let uri: Uri = uri.parse().expect("a URL");
            host(&uri, signed).expect("a host")
        };
        assert_eq!(
            host_of("http://127.0.0.1:4318/v1/traces", false),
            "127.0.0.1:4318"
        );
        assert_eq!(host_of("http://collector/v1/traces", false), "collector");
        assert_eq!(host_of("http://collector:80/v1/traces", false), "collector");
        assert_eq!(
            host_of("https://collector:443/v1/traces", false),
            "collector"
        );
        assert_eq!(
            host_of("https://collector:80/v1/traces", false),
            "collector:80"
        );
        assert_eq!(host_of("http://[::1]:4318/v1/traces", false), "[::1]:4318");
        assert_eq!(
            host_of("https://xray.eu-west-1.amazonaws.com:443/v1/traces", true),
            "xray.eu-west-1.amazonaws.com:443"
        );
    }
}
