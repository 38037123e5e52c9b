//! Where X-Ray export goes and how it is signed: the endpoint (`LAMBDA_LENS_XRAY_ENDPOINT`, or
//! the regional one), the region the signatures are scoped to, and the credentials, from
//! [`XraySettings`]; or what is missing.

use http::Uri;

use super::sigv4::Signer;
use crate::settings::{OtlpSettings, Transport, XraySettings};

/// The SigV4 service name of X-Ray's OTLP endpoint.
const SERVICE: &str = "xray";

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
pub(crate) fn configure(
    settings: &XraySettings,
    config: &mut OtlpSettings,
) -> Result<Signer, XrayConfigError> {
    let endpoint = match &settings.endpoint {
        Some(endpoint) => endpoint.clone(),
        None => {
            let region = settings
                .region
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
        .or_else(|| settings.region.clone())
        .ok_or(XrayConfigError::MissingRegion)?;
    // X-Ray takes OTLP/HTTP only (the settings warned when gRPC was asked for).
    config.transport = Transport::HttpProtobuf;
    config.endpoint = endpoint;
    let credentials = settings
        .credentials
        .clone()
        .ok_or(XrayConfigError::MissingCredentials)?;
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::settings::{Destination, SettingsGroup};

    fn configured(vars: &[(&str, &str)]) -> (Result<Signer, XrayConfigError>, OtlpSettings) {
        let vars: HashMap<String, String> = vars
            .iter()
            .chain(&[("LAMBDA_LENS_EXPORT_TARGET", "xray")])
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let (mut destination, _) = Destination::from_lookup(|name| vars.get(name).cloned());
        let signer = configure(&destination.xray, &mut destination.otlp);
        (signer, destination.otlp)
    }

    const KEYS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];

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
