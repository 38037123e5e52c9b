//! The HTTP client OTLP/HTTP exports go through: hyper 1 over hyper-rustls, HTTP/1.1, Nagle off,
//! the bundled Mozilla (webpki) roots plus the CA certificates of
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`, and a per-request timeout.
//!
//! Bundled roots mean no certificate-store scan at start-up (the Lambda image's store is not
//! needed, and reading it would cost init time). Extra CAs serve private collectors and
//! TLS-inspecting proxies. Only HTTP/1.1 is offered: OTLP/HTTP needs no multiplexing, and AWS's
//! OTLP endpoints speak HTTP/1.1.

use std::fs;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpClient, HttpError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// Responses are a (possibly empty) `ExportTraceServiceResponse`; anything larger is not OTLP.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Idle connections are closed after this long. Collectors and load balancers close idle
/// keep-alive connections after about a minute; reusing one they already closed would fail a
/// flush (the spans are retried, but a flush is lost).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The error of a request that did not finish within the per-request timeout.
#[derive(Debug, thiserror::Error)]
#[error("OTLP/HTTP request timed out after {0:?}")]
struct RequestTimedOut(Duration);

/// Why the `OTEL_EXPORTER_OTLP_CERTIFICATE` file could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CaFileError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is not a PEM file of certificates: {source}")]
    Pem {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{path} holds no PEM certificate")]
    Empty { path: PathBuf },
}

/// CA certificates trusted in addition to the bundled roots, read from a PEM file.
#[derive(Debug, Clone)]
pub(crate) struct CaCertificates {
    /// The file as read: tonic takes PEM.
    pub(crate) pem: Vec<u8>,
    /// The parsed certificates: rustls takes DER.
    der: Vec<CertificateDer<'static>>,
}

impl CaCertificates {
    /// Reads and parses the PEM file at `path`; at least one certificate is required.
    pub(crate) fn load(path: &Path) -> Result<Self, CaFileError> {
        let pem = fs::read(path).map_err(|source| CaFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let der = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| CaFileError::Pem {
                path: path.to_owned(),
                source,
            })?;
        if der.is_empty() {
            return Err(CaFileError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(Self { pem, der })
    }

    /// Like [`CaCertificates::load`], but a file that cannot be used is logged and ignored, so
    /// that exports still work with the bundled roots (e.g. towards public endpoints).
    pub(crate) fn load_or_warn(path: Option<&Path>) -> Option<Self> {
        Self::load(path?)
            .inspect_err(|error| {
                tracing::warn!(
                    "OTEL_EXPORTER_OTLP_CERTIFICATE ignored, trusting the bundled roots only: {error}"
                )
            })
            .ok()
    }
}

/// The bundled Mozilla roots plus `extra` (a certificate rustls rejects is skipped and logged).
fn root_store(extra: Option<&CaCertificates>) -> RootCertStore {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(extra) = extra {
        let (_, rejected) = roots.add_parsable_certificates(extra.der.iter().cloned());
        if rejected > 0 {
            tracing::warn!(
                rejected,
                "OTEL_EXPORTER_OTLP_CERTIFICATE: some certificates are not usable as trust anchors"
            );
        }
    }
    roots
}

/// An [`HttpClient`] for opentelemetry-otlp that needs no blocking thread and no reqwest.
#[derive(Debug, Clone)]
pub(crate) struct OtlpHttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl OtlpHttpClient {
    /// Builds the client; `timeout` bounds each request including reading the response, and
    /// `extra_roots` are trusted besides the bundled roots.
    pub(crate) fn new(timeout: Duration, extra_roots: Option<&CaCertificates>) -> Self {
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
        Self { client, timeout }
    }

    pub(crate) async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let request = Request::from_parts(parts, Full::new(body));
        let exchange = async {
            let response = self.client.request(request).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await?
                .to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| Box::new(RequestTimedOut(self.timeout)) as HttpError)?
    }
}

// Written out instead of `#[async_trait]` (the trait is declared with it): the crate does not
// depend on async-trait, and this is exactly the signature the macro generates.
impl HttpClient for OtlpHttpClient {
    fn send_bytes<'client, 'async_trait>(
        &'client self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'async_trait>>
    where
        'client: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn temp_file(contents: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "lambda-lens-ca-{}-{}.pem",
            std::process::id(),
            contents.len()
        ));
        fs::File::create(&path)
            .and_then(|mut file| file.write_all(contents))
            .expect("the temp directory is writable");
        path
    }

    #[test]
    fn unusable_certificate_files_are_errors_and_fall_back_to_the_bundled_roots() {
        let missing = Path::new("/nonexistent/lambda-lens-ca.pem");
        assert!(matches!(
            CaCertificates::load(missing),
            Err(CaFileError::Read { .. })
        ));
        let not_pem = temp_file(b"just text, no certificate");
        assert!(matches!(
            CaCertificates::load(&not_pem),
            Err(CaFileError::Empty { .. })
        ));
        let broken = temp_file(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n");
        assert!(matches!(
            CaCertificates::load(&broken),
            Err(CaFileError::Pem { .. })
        ));
        for path in [missing, &not_pem, &broken] {
            assert!(CaCertificates::load_or_warn(Some(path)).is_none());
        }
        assert!(CaCertificates::load_or_warn(None).is_none());
        assert_eq!(
            root_store(None).len(),
            webpki_roots::TLS_SERVER_ROOTS.len(),
            "the bundled roots only"
        );
        let _ = fs::remove_file(not_pem);
        let _ = fs::remove_file(broken);
    }
}
