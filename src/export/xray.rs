//! Direct export to AWS X-Ray's OTLP endpoint (`LAMBDA_LENS_EXPORT_TARGET=xray`).
//!
//! X-Ray takes OTLP/HTTP with a protobuf body (gzip or not) at
//! `https://xray.{region}.amazonaws.com/v1/traces`, and every request must be signed with SigV4
//! for service `xray` in the endpoint's region. The signing happens in [`SigningHttpClient`], a
//! wrapper around our HTTP client: opentelemetry-otlp still builds (and compresses) the protobuf
//! body, and the signature covers those exact bytes, `content-encoding` included, at the moment
//! the request is sent (so a request re-sent by a later flush carries a fresh date).
//!
//! Credentials are read once, when the exporter is built, from `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`: Lambda sets them for the execution role and
//! they stay valid for the execution environment's lifetime.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Request, Response, Uri};
use opentelemetry_http::{HttpClient, HttpError};

use super::http_client::OtlpHttpClient;
use super::otlp_config::OtlpConfig;
use super::sigv4::{Credentials, Signer};
use super::Transport;

/// The SigV4 service name of X-Ray's OTLP endpoint.
const SERVICE: &str = "xray";

/// Where spans go (`LAMBDA_LENS_EXPORT_TARGET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportTarget {
    /// Any OTLP collector, configured by the standard `OTEL_EXPORTER_OTLP_*` variables
    /// (`otlp`, the default).
    Otlp,
    /// AWS X-Ray's OTLP endpoint, SigV4-signed, within X-Ray's request and span limits (`xray`).
    Xray,
}

impl ExportTarget {
    /// Reads `LAMBDA_LENS_EXPORT_TARGET` (`otlp` or `xray`, any case); anything else is a
    /// warning and `otlp`.
    pub(crate) fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) -> Self {
        let Some(value) = lookup("LAMBDA_LENS_EXPORT_TARGET") else {
            return Self::Otlp;
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "otlp" => Self::Otlp,
            "xray" => Self::Xray,
            _ => {
                warnings.push(format!(
                    "LAMBDA_LENS_EXPORT_TARGET={value:?} is not otlp or xray; exporting with OTLP"
                ));
                Self::Otlp
            }
        }
    }
}

/// Why X-Ray export could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum XrayConfigError {
    /// `AWS_ACCESS_KEY_ID` or `AWS_SECRET_ACCESS_KEY` is missing.
    #[error("X-Ray export needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them for the execution role)")]
    MissingCredentials,
    /// Neither the endpoint's host nor `AWS_REGION` names a region.
    #[error("X-Ray export needs AWS_REGION (or an endpoint whose host names the region)")]
    MissingRegion,
    /// `LAMBDA_LENS_XRAY_ENDPOINT` is not an http(s) URL with a host.
    #[error("LAMBDA_LENS_XRAY_ENDPOINT={0:?} is not an http(s) URL with a host")]
    BadEndpoint(String),
}

/// Points `config` at X-Ray (endpoint, OTLP/HTTP) and returns the signer for its requests.
/// `lookup` must already treat empty values as unset.
pub(crate) fn configure(
    lookup: &dyn Fn(&str) -> Option<String>,
    config: &mut OtlpConfig,
    warnings: &mut Vec<String>,
) -> Result<Signer, XrayConfigError> {
    let env_region = lookup("AWS_REGION").map(|region| region.trim().to_owned());
    let endpoint = match lookup("LAMBDA_LENS_XRAY_ENDPOINT") {
        Some(endpoint) => endpoint.trim().to_owned(),
        None => {
            let region = env_region
                .as_deref()
                .ok_or(XrayConfigError::MissingRegion)?;
            format!("https://xray.{region}.amazonaws.com/v1/traces")
        }
    };
    let uri: Uri = endpoint
        .parse()
        .map_err(|_| XrayConfigError::BadEndpoint(endpoint.clone()))?;
    let host = uri
        .host()
        .filter(|_| matches!(uri.scheme_str(), Some("http" | "https")))
        .ok_or_else(|| XrayConfigError::BadEndpoint(endpoint.clone()))?;
    let region = region_from_host(host)
        .or(env_region)
        .ok_or(XrayConfigError::MissingRegion)?;

    for name in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ] {
        if lookup(name).is_some() {
            warnings.push(format!(
                "{name} is ignored with LAMBDA_LENS_EXPORT_TARGET=xray (set LAMBDA_LENS_XRAY_ENDPOINT to override the X-Ray endpoint)"
            ));
        }
    }
    if config.transport == Transport::Grpc {
        warnings.push(
            "X-Ray accepts OTLP/HTTP only: exporting with http/protobuf instead of grpc".into(),
        );
    }
    config.transport = Transport::HttpProtobuf;
    config.endpoint = endpoint;

    let credentials = Credentials {
        access_key_id: lookup("AWS_ACCESS_KEY_ID").ok_or(XrayConfigError::MissingCredentials)?,
        secret_access_key: lookup("AWS_SECRET_ACCESS_KEY")
            .ok_or(XrayConfigError::MissingCredentials)?,
        session_token: lookup("AWS_SESSION_TOKEN"),
    };
    Ok(Signer::new(credentials, &region, SERVICE))
}

/// The region in an X-Ray host name: the label after `xray`, as in
/// `xray.eu-west-1.amazonaws.com` or a VPC endpoint's `vpce-….xray.eu-west-1.vpce.amazonaws.com`.
fn region_from_host(host: &str) -> Option<String> {
    let mut labels = host.split('.').skip_while(|label| *label != SERVICE);
    labels.next()?;
    let region = labels.next()?;
    let looks_like_region = region.contains('-')
        && region.ends_with(|c: char| c.is_ascii_digit())
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    looks_like_region.then(|| region.to_owned())
}

/// Our [`OtlpHttpClient`] with every request SigV4-signed just before it is sent.
#[derive(Debug, Clone)]
pub(crate) struct SigningHttpClient {
    inner: OtlpHttpClient,
    signer: Arc<Signer>,
}

impl SigningHttpClient {
    pub(crate) fn new(inner: OtlpHttpClient, signer: Signer) -> Self {
        Self {
            inner,
            signer: Arc::new(signer),
        }
    }
}

// Written out instead of `#[async_trait]`, as for `OtlpHttpClient`.
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn configured(vars: &[(&str, &str)]) -> (Result<Signer, XrayConfigError>, OtlpConfig) {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let lookup = |name: &str| vars.get(name).cloned();
        let (mut config, _) = OtlpConfig::from_lookup(&lookup);
        let mut warnings = Vec::new();
        let signer = configure(&lookup, &mut config, &mut warnings);
        (signer, config)
    }

    const KEYS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];

    #[test]
    fn target_values() {
        let mut warnings = Vec::new();
        assert_eq!(
            ExportTarget::from_lookup(&|_| None, &mut warnings),
            ExportTarget::Otlp
        );
        assert_eq!(
            ExportTarget::from_lookup(&|_| Some(" XRay ".into()), &mut warnings),
            ExportTarget::Xray
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            ExportTarget::from_lookup(&|_| Some("jaeger".into()), &mut warnings),
            ExportTarget::Otlp
        );
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn the_default_endpoint_is_the_regional_one() {
        let (signer, config) = configured(&[KEYS[0], KEYS[1], ("AWS_REGION", "eu-central-1")]);
        let signer = signer.expect("credentials and region are set");
        assert_eq!(signer.region(), "eu-central-1");
        assert_eq!(
            config.endpoint,
            "https://xray.eu-central-1.amazonaws.com/v1/traces"
        );
        assert_eq!(config.transport, Transport::HttpProtobuf);
    }

    #[test]
    fn the_endpoint_host_names_the_region_and_grpc_is_replaced() {
        let (signer, config) = configured(&[
            KEYS[0],
            KEYS[1],
            ("AWS_REGION", "us-east-1"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            (
                "LAMBDA_LENS_XRAY_ENDPOINT",
                "https://vpce-0a1b-xyz.xray.ap-southeast-2.vpce.amazonaws.com/v1/traces",
            ),
        ]);
        assert_eq!(
            signer.expect("configured").region(),
            "ap-southeast-2",
            "the endpoint's region wins over AWS_REGION"
        );
        assert_eq!(config.transport, Transport::HttpProtobuf);
        let (signer, _) = configured(&[
            KEYS[0],
            KEYS[1],
            ("AWS_REGION", "us-west-2"),
            (
                "LAMBDA_LENS_XRAY_ENDPOINT",
                "https://127.0.0.1:4318/v1/traces",
            ),
        ]);
        assert_eq!(signer.expect("configured").region(), "us-west-2");
    }

    #[test]
    fn missing_settings_are_errors() {
        let (signer, _) = configured(&[("AWS_REGION", "us-east-1")]);
        assert!(matches!(signer, Err(XrayConfigError::MissingCredentials)));
        let (signer, _) = configured(&KEYS);
        assert!(matches!(signer, Err(XrayConfigError::MissingRegion)));
        let (signer, _) = configured(&[
            KEYS[0],
            KEYS[1],
            ("LAMBDA_LENS_XRAY_ENDPOINT", "xray.us-east-1.amazonaws.com"),
        ]);
        assert!(matches!(signer, Err(XrayConfigError::BadEndpoint(_))));
    }

    #[test]
    fn regions_in_host_names() {
        assert_eq!(
            region_from_host("xray.us-gov-west-1.amazonaws.com").as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(region_from_host("localhost"), None);
        assert_eq!(region_from_host("xray.amazonaws.com"), None);
    }
}
