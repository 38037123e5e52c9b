//! What OTLP exports trust: the bundled Mozilla (webpki) roots plus the CA certificates of
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`, for both transports.
//!
//! Bundled roots mean no certificate-store scan at start-up (the Lambda image's store is not
//! needed, and reading it would cost init time). Extra CAs serve private collectors and
//! TLS-inspecting proxies. A file that cannot be used is logged and ignored: exports still work
//! towards public endpoints.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

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
pub(super) fn root_store(extra: Option<&CaCertificates>) -> RootCertStore {
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
