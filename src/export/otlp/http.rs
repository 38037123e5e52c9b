//! OTLP/HTTP: an opentelemetry-otlp exporter (of any signal) set up to POST protobuf bodies to
//! the signal's full URL through the given client, with the configured headers, timeout and
//! compression, and its own retries off.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry_http::HttpClient;
use opentelemetry_otlp::{Compression, Protocol, RetryPolicy, WithExportConfig, WithHttpConfig};

use super::headers::header_map;
use crate::settings::OtlpSettings;

/// Sets everything on `builder` explicitly (so opentelemetry-otlp does not fall back to its own
/// reading of the process environment) and sends through `client`.
pub(super) fn configure<B>(builder: B, config: &OtlpSettings, client: &Arc<dyn HttpClient>) -> B
where
    B: WithExportConfig + WithHttpConfig,
{
    let headers: HashMap<String, String> = header_map(&config.headers)
        .iter()
        .filter_map(|(name, value)| {
            let value = value.to_str().ok()?;
            // `with_headers` percent-decodes again; escaping `%` keeps the decoded values intact.
            Some((name.as_str().to_owned(), value.replace('%', "%25")))
        })
        .collect();
    let builder = builder
        .with_shared_http_client(Arc::clone(client))
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(config.endpoint.as_str())
        .with_timeout(config.timeout)
        .with_headers(headers)
        .with_retry_policy(RetryPolicy::disabled());
    if config.gzip {
        builder.with_compression(Compression::Gzip)
    } else {
        builder
    }
}
