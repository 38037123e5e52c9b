//! OTLP/gRPC: an opentelemetry-otlp exporter (of any signal) set up to call the collector's gRPC
//! service at the server URL through tonic, with the configured headers as metadata, timeout and
//! compression, TLS for `https` URLs, and its own retries off.
//!
//! tonic's default `ClientTlsConfig` has no roots at all (https would fail every handshake), so
//! it is given the bundled webpki roots and the extra CAs.

use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig};
use opentelemetry_otlp::{Compression, RetryPolicy, WithExportConfig, WithTonicConfig};

use super::headers::header_map;
use super::tls::CaCertificates;
use crate::export::ExportError;
use crate::settings::OtlpSettings;

/// Sets everything on `builder` explicitly (so opentelemetry-otlp does not fall back to its own
/// reading of the process environment), trusting `ca` besides the bundled roots.
pub(super) fn configure<B>(
    builder: B,
    config: &OtlpSettings,
    ca: Option<&CaCertificates>,
) -> Result<B, ExportError>
where
    B: WithExportConfig + WithTonicConfig,
{
    let metadata = MetadataMap::from_headers(header_map(&config.headers));
    // tonic's channel spawns its worker on the current runtime and panics without one.
    tokio::runtime::Handle::try_current().map_err(|_| {
        ExportError::Build("the gRPC exporter must be built within a Tokio runtime".into())
    })?;
    let builder = builder
        .with_endpoint(config.endpoint.as_str())
        .with_timeout(config.timeout)
        // Used only for https endpoints; plain http ones connect without TLS.
        .with_tls_config(tls_config(ca))
        .with_metadata(metadata)
        .with_retry_policy(RetryPolicy::disabled());
    Ok(if config.gzip {
        builder.with_compression(Compression::Gzip)
    } else {
        builder
    })
}

/// TLS for OTLP/gRPC: the bundled Mozilla roots (tonic's default has none) and the extra CAs.
fn tls_config(ca: Option<&CaCertificates>) -> ClientTlsConfig {
    let tls = ClientTlsConfig::new().with_webpki_roots();
    match ca {
        Some(ca) => tls.ca_certificate(Certificate::from_pem(&ca.pem)),
        None => tls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_tls_uses_the_bundled_webpki_roots() {
        // ClientTlsConfig exposes its root selection only through Debug.
        let debug = format!("{:?}", tls_config(None));
        assert!(debug.contains("with_webpki_roots: true"), "{debug}");
    }
}
