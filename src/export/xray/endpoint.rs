//! Where export to AWS goes and how it is signed, per signal: traces to X-Ray
//! (`LAMBDA_LENS_XRAY_ENDPOINT`, or the regional endpoint, service `xray`), log records to
//! CloudWatch Logs (`LAMBDA_LENS_CLOUDWATCH_LOGS_ENDPOINT`, or `logs.<region>`, service `logs`,
//! into the log group and stream named by the `x-aws-log-group` and `x-aws-log-stream` headers),
//! metrics to CloudWatch (`LAMBDA_LENS_CLOUDWATCH_METRICS_ENDPOINT`, or `monitoring.<region>`,
//! service `monitoring`); the region the signatures are scoped to, and the credentials, from
//! [`XraySettings`]; or what is missing.

use http::Uri;

use super::sigv4::Signer;
use crate::settings::{OtlpSettings, Signal, Transport, XraySettings};

/// One AWS OTLP endpoint: its SigV4 service name (also its host's first label), path and the
/// variable that overrides it.
struct AwsService {
    name: &'static str,
    path: &'static str,
    variable: &'static str,
}

/// Traces: X-Ray.
const XRAY: AwsService = AwsService {
    name: "xray",
    path: "/v1/traces",
    variable: "LAMBDA_LENS_XRAY_ENDPOINT",
};
/// Log records: CloudWatch Logs.
const LOGS: AwsService = AwsService {
    name: "logs",
    path: "/v1/logs",
    variable: "LAMBDA_LENS_CLOUDWATCH_LOGS_ENDPOINT",
};
/// Metrics: CloudWatch.
const MONITORING: AwsService = AwsService {
    name: "monitoring",
    path: "/v1/metrics",
    variable: "LAMBDA_LENS_CLOUDWATCH_METRICS_ENDPOINT",
};

/// The CloudWatch Logs header naming the log group records go to.
const LOG_GROUP_HEADER: &str = "x-aws-log-group";
/// The CloudWatch Logs header naming the log stream records go to (it must exist: the
/// environment's own stream does).
pub(crate) const LOG_STREAM_HEADER: &str = "x-aws-log-stream";

/// Why export to AWS could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum XrayConfigError {
    /// `AWS_ACCESS_KEY_ID` or `AWS_SECRET_ACCESS_KEY` is missing.
    #[error("X-Ray export needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them for the execution role)")]
    MissingCredentials,
    /// Neither the endpoint's host nor `AWS_REGION` names a region.
    #[error("X-Ray export needs AWS_REGION (or an endpoint whose host names the region)")]
    MissingRegion,
    /// An endpoint override is not an http(s) URL with a host.
    #[error("{variable}={endpoint:?} is not an http(s) URL with a host")]
    BadEndpoint {
        /// The variable that set it.
        variable: &'static str,
        /// Its value.
        endpoint: String,
    },
    /// Log records need a log group (outside Lambda, no function name names it).
    #[error("log export to CloudWatch Logs needs a log group (LAMBDA_LENS_CLOUDWATCH_LOG_GROUP, or AWS_LAMBDA_FUNCTION_NAME for Lambda's default group)")]
    MissingLogGroup,
}

/// Points `config` (of any signal) at its AWS endpoint (OTLP/HTTP; for logs with the log group
/// and stream headers) and returns the signer for its requests.
pub(crate) fn configure(
    settings: &XraySettings,
    config: &mut OtlpSettings,
) -> Result<Signer, XrayConfigError> {
    let (service, endpoint) = match config.signal {
        Signal::Traces => (&XRAY, &settings.endpoint),
        Signal::Logs => (&LOGS, &settings.logs_endpoint),
        Signal::Metrics => (&MONITORING, &settings.metrics_endpoint),
    };
    let endpoint = match endpoint {
        Some(endpoint) => endpoint.clone(),
        None => {
            let region = settings
                .region
                .as_deref()
                .ok_or(XrayConfigError::MissingRegion)?;
            format!(
                "https://{}.{region}.amazonaws.com{}",
                service.name, service.path
            )
        }
    };
    let bad_endpoint = || XrayConfigError::BadEndpoint {
        variable: service.variable,
        endpoint: endpoint.clone(),
    };
    let uri: Uri = endpoint.parse().map_err(|_| bad_endpoint())?;
    let host = uri
        .host()
        .filter(|_| matches!(uri.scheme_str(), Some("http" | "https")))
        .ok_or_else(bad_endpoint)?;
    let region = region_from_host(host, service.name)
        .or_else(|| settings.region.clone())
        .ok_or(XrayConfigError::MissingRegion)?;
    if config.signal == Signal::Logs {
        let group = settings
            .log_group
            .as_ref()
            .ok_or(XrayConfigError::MissingLogGroup)?;
        config
            .headers
            .push((LOG_GROUP_HEADER.to_owned(), group.clone()));
        // Without it, the exporter holds log records until the environment's stream is known.
        if let Some(stream) = &settings.log_stream {
            config
                .headers
                .push((LOG_STREAM_HEADER.to_owned(), stream.clone()));
        }
    }
    // The AWS endpoints take OTLP/HTTP only (the settings warned when gRPC was asked for).
    config.transport = Transport::HttpProtobuf;
    config.endpoint = endpoint;
    let credentials = settings
        .credentials
        .clone()
        .ok_or(XrayConfigError::MissingCredentials)?;
    Ok(Signer::new(credentials, &region, service.name))
}

/// The region in an AWS host name: the label after the service's, as in
/// `xray.eu-west-1.amazonaws.com` or a VPC endpoint's `vpce-….logs.eu-west-1.vpce.amazonaws.com`.
fn region_from_host(host: &str, service: &str) -> Option<String> {
    let mut labels = host.split('.').skip_while(|label| *label != service);
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

    /// The destination `vars` configure, with X-Ray as the target.
    fn destination(vars: &[(&str, &str)]) -> Destination {
        let vars: HashMap<String, String> = vars
            .iter()
            .chain(&[("LAMBDA_LENS_EXPORT_TARGET", "xray")])
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Destination::from_lookup(|name| vars.get(name).cloned()).0
    }

    fn configured(vars: &[(&str, &str)]) -> (Result<Signer, XrayConfigError>, OtlpSettings) {
        let mut destination = destination(vars);
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
        assert!(matches!(signer, Err(XrayConfigError::BadEndpoint { .. })));
    }

    #[test]
    fn regions_in_host_names() {
        assert_eq!(
            region_from_host("xray.us-gov-west-1.amazonaws.com", "xray").as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(
            region_from_host("logs.eu-west-1.amazonaws.com", "logs").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_from_host("localhost", "xray"), None);
        assert_eq!(region_from_host("xray.amazonaws.com", "xray"), None);
    }

    #[test]
    fn logs_and_metrics_go_to_cloudwatch_with_their_own_services() {
        let destination = destination(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/orders"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]abc"),
            ("LAMBDA_LENS_CLOUDWATCH_LOG_STREAM", "otlp"),
            KEYS[0],
            KEYS[1],
        ]);
        let mut logs = destination.logs.clone().expect("logs are on by default");
        let signer = configure(&destination.xray, &mut logs).expect("complete");
        assert_eq!(signer.service(), "logs");
        assert_eq!(
            logs.endpoint,
            "https://logs.eu-west-1.amazonaws.com/v1/logs"
        );
        assert_eq!(
            logs.headers,
            [
                (
                    "x-aws-log-group".to_owned(),
                    "/aws/lambda/orders".to_owned()
                ),
                ("x-aws-log-stream".to_owned(), "otlp".to_owned()),
            ]
        );
        let mut metrics = destination
            .metrics
            .clone()
            .expect("metrics are on by default");
        let signer = configure(&destination.xray, &mut metrics).expect("complete");
        assert_eq!(signer.service(), "monitoring");
        assert_eq!(
            metrics.endpoint,
            "https://monitoring.eu-west-1.amazonaws.com/v1/metrics"
        );

        let mut xray = destination.xray.clone();
        xray.log_group = None;
        let mut logs = destination.logs.expect("logs are on by default");
        assert!(matches!(
            configure(&xray, &mut logs),
            Err(XrayConfigError::MissingLogGroup)
        ));
    }

    #[test]
    fn on_lambda_logs_go_to_the_functions_default_group_and_its_own_stream() {
        // Lambda passes extensions neither AWS_LAMBDA_LOG_GROUP_NAME nor AWS_LAMBDA_LOG_STREAM_NAME.
        let destination = destination(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
            KEYS[0],
            KEYS[1],
        ]);
        let mut logs = destination.logs.clone().expect("logs are on by default");
        configure(&destination.xray, &mut logs).expect("complete");
        assert_eq!(
            logs.headers,
            [(
                "x-aws-log-group".to_owned(),
                "/aws/lambda/orders".to_owned()
            )],
            "the stream is learnt from platform.initStart"
        );
    }
}
