//! The standard `OTEL_EXPORTER_OTLP_*` variables for traces, resolved as the OTLP exporter
//! specification and opentelemetry-otlp 0.33 do: the signal-specific variable wins over the generic
//! one, `OTEL_EXPORTER_OTLP_ENDPOINT` gets `/v1/traces` appended for HTTP while
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is, header values are percent-decoded, and a bad
//! value yields a warning and the default.
//!
//! opentelemetry-otlp would read these variables from the process environment itself; resolving
//! them here and handing every value to it explicitly keeps export testable without touching the
//! (process-global) environment.

use std::path::PathBuf;
use std::time::Duration;

use super::parse::{key_values, one_of, percent_decode, Bounds, Env};
use super::variable::{Fallback, Variable};
use super::SettingsGroup;

/// Default OTLP/HTTP collector base URL (the specification's default).
const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
/// Default OTLP/gRPC collector URL (the specification's default).
const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// Path appended to `OTEL_EXPORTER_OTLP_ENDPOINT` for HTTP trace exports.
const HTTP_TRACES_PATH: &str = "/v1/traces";
/// Default per-request timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`).
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(10_000);

pub(super) const ENDPOINT: Variable = Variable::user(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    Fallback::Value(DEFAULT_HTTP_ENDPOINT),
);
pub(super) const TRACES_ENDPOINT: Variable =
    Variable::user("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", Fallback::None);
pub(super) const PROTOCOL: Variable = Variable::user(
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    Fallback::Value("http/protobuf"),
);
pub(super) const TRACES_PROTOCOL: Variable = Variable::user(
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    Fallback::Value("http/protobuf"),
);
const HEADERS: Variable = Variable::user("OTEL_EXPORTER_OTLP_HEADERS", Fallback::None);
const TRACES_HEADERS: Variable =
    Variable::user("OTEL_EXPORTER_OTLP_TRACES_HEADERS", Fallback::None);
const COMPRESSION: Variable =
    Variable::user("OTEL_EXPORTER_OTLP_COMPRESSION", Fallback::Value("none"));
const TRACES_COMPRESSION: Variable = Variable::user(
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    Fallback::Value("none"),
);
const TIMEOUT: Variable = Variable::user("OTEL_EXPORTER_OTLP_TIMEOUT", Fallback::Value("10000"));
const TRACES_TIMEOUT: Variable = Variable::user(
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    Fallback::Value("10000"),
);
const INSECURE: Variable = Variable::user("OTEL_EXPORTER_OTLP_INSECURE", Fallback::Value("false"));
const TRACES_INSECURE: Variable = Variable::user(
    "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
    Fallback::Value("false"),
);
const CERTIFICATE: Variable = Variable::user("OTEL_EXPORTER_OTLP_CERTIFICATE", Fallback::None);
const TRACES_CERTIFICATE: Variable =
    Variable::user("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", Fallback::None);

/// The variables of this group.
pub(super) const VARIABLES: &[Variable] = &[
    ENDPOINT,
    TRACES_ENDPOINT,
    PROTOCOL,
    TRACES_PROTOCOL,
    HEADERS,
    TRACES_HEADERS,
    COMPRESSION,
    TRACES_COMPRESSION,
    TIMEOUT,
    TRACES_TIMEOUT,
    INSECURE,
    TRACES_INSECURE,
    CERTIFICATE,
    TRACES_CERTIFICATE,
];

/// The wire protocol spans are exported with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// OTLP/HTTP with a protobuf body (`http/protobuf`, the default; also used for `http/json`).
    HttpProtobuf,
    /// OTLP/gRPC (`grpc`).
    Grpc,
}

/// Where and how spans are sent to an OTLP collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSettings {
    /// The protocol.
    pub transport: Transport,
    /// The full URL requests go to: for HTTP including the path, for gRPC with a scheme.
    pub endpoint: String,
    /// Extra request headers (gRPC metadata), values already percent-decoded.
    pub headers: Vec<(String, String)>,
    /// Compress request bodies with gzip.
    pub gzip: bool,
    /// The most one export request may take.
    pub timeout: Duration,
    /// A PEM file of CA certificates trusted in addition to the bundled roots.
    pub certificate: Option<PathBuf>,
}

impl Default for OtlpSettings {
    /// The specification's defaults: OTLP/HTTP to `localhost:4318`, uncompressed, 10 s.
    fn default() -> Self {
        Self {
            transport: Transport::HttpProtobuf,
            endpoint: append_traces_path(DEFAULT_HTTP_ENDPOINT),
            headers: Vec::new(),
            gzip: false,
            timeout: DEFAULT_TIMEOUT,
            certificate: None,
        }
    }
}

impl SettingsGroup for OtlpSettings {
    fn read(env: &mut Env<'_>) -> Self {
        let transport = match env.find(&[TRACES_PROTOCOL, PROTOCOL]) {
            None => Transport::HttpProtobuf,
            Some((variable, value)) if value.trim().eq_ignore_ascii_case("http/json") => {
                // opentelemetry-otlp is built without its http-json feature (smaller binary);
                // every OTLP/HTTP receiver must accept protobuf, so this still delivers.
                env.warn(
                    &variable,
                    &value,
                    "http/json is not supported by this build; using http/protobuf",
                );
                Transport::HttpProtobuf
            }
            Some((variable, value)) => env.parse_value(
                &variable,
                &value,
                Transport::HttpProtobuf,
                "expected grpc, http/protobuf or http/json",
                |raw| {
                    one_of(
                        raw,
                        &[
                            ("grpc", Transport::Grpc),
                            ("http/protobuf", Transport::HttpProtobuf),
                        ],
                    )
                },
            ),
        };

        let endpoint = match (transport, env.get(&TRACES_ENDPOINT)) {
            (Transport::HttpProtobuf, Some(url)) => url.trim().to_owned(),
            (Transport::HttpProtobuf, None) => append_traces_path(
                &env.get(&ENDPOINT)
                    .unwrap_or_else(|| DEFAULT_HTTP_ENDPOINT.to_owned()),
            ),
            // gRPC has no per-signal path: the service method names the signal.
            (Transport::Grpc, signal) => {
                let endpoint = signal
                    .or_else(|| env.get(&ENDPOINT))
                    .unwrap_or_else(|| DEFAULT_GRPC_ENDPOINT.to_owned());
                let insecure = env.flag(&[TRACES_INSECURE, INSECURE], false);
                with_grpc_scheme(endpoint.trim(), insecure)
            }
        };

        let headers = env
            .find(&[TRACES_HEADERS, HEADERS])
            .map(|(_, value)| parse_headers(&value))
            .unwrap_or_default();
        let gzip = env.parse(
            &[TRACES_COMPRESSION, COMPRESSION],
            false,
            "expected gzip or none",
            |raw| one_of(raw, &[("gzip", true), ("none", false)]),
        );
        let timeout = env.millis(
            &[TRACES_TIMEOUT, TIMEOUT],
            DEFAULT_TIMEOUT,
            Bounds::at_least(1),
        );
        let certificate = env
            .find(&[TRACES_CERTIFICATE, CERTIFICATE])
            .map(|(_, path)| PathBuf::from(path.trim()));

        Self {
            transport,
            endpoint,
            headers,
            gzip,
            timeout,
            certificate,
        }
    }
}

/// `base` + `/v1/traces` without doubling the slash (as opentelemetry-otlp does).
fn append_traces_path(base: &str) -> String {
    let base = base.trim();
    let base = base.strip_suffix('/').unwrap_or(base);
    format!("{base}{HTTP_TRACES_PATH}")
}

/// Per the OTLP exporter specification a gRPC endpoint without a scheme uses TLS unless
/// `..._INSECURE=true`; the scheme is added here so opentelemetry-otlp, which would otherwise
/// consult the process environment for `INSECURE`, uses the endpoint as given.
fn with_grpc_scheme(endpoint: &str, insecure: bool) -> String {
    let has_scheme = endpoint
        .split_once("://")
        .is_some_and(|(scheme, _)| !scheme.contains(['/', '?', '#']));
    match (has_scheme, insecure) {
        (true, _) => endpoint.to_owned(),
        (false, true) => format!("http://{endpoint}"),
        (false, false) => format!("https://{endpoint}"),
    }
}

/// Parses `k=v,k2=v2` as opentelemetry-otlp does: entries and keys trimmed, values trimmed and
/// percent-decoded (kept raw when the escape is invalid), entries with an empty key or value
/// skipped.
fn parse_headers(raw: &str) -> Vec<(String, String)> {
    key_values(raw)
        .filter_map(|(key, value)| {
            let value = percent_decode(value).unwrap_or_else(|| value.to_owned());
            (!key.is_empty() && !value.is_empty()).then(|| (key.to_owned(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::parse::fixed;
    use super::*;
    use crate::settings::SettingWarning;

    fn resolve(vars: &[(&str, &str)]) -> (OtlpSettings, Vec<SettingWarning>) {
        OtlpSettings::from_lookup(fixed(vars))
    }

    #[test]
    fn defaults_follow_the_specification() {
        let (config, warnings) = resolve(&[]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config, OtlpSettings::default());
        assert_eq!(config.transport, Transport::HttpProtobuf);
        assert_eq!(config.endpoint, "http://localhost:4318/v1/traces");
        assert!(config.headers.is_empty());
        assert!(!config.gzip);
        assert_eq!(config.timeout, Duration::from_millis(10_000));
        assert_eq!(config.certificate, None);

        let (grpc, _) = resolve(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
        assert_eq!(grpc.endpoint, "http://localhost:4317");
    }

    #[test]
    fn endpoint_rules() {
        let (config, _) = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c.example/otlp/")]);
        assert_eq!(config.endpoint, "https://c.example/otlp/v1/traces");
        let (config, _) = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://ignored.example"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://c.example/custom",
            ),
        ]);
        assert_eq!(config.endpoint, "https://c.example/custom");
        let (config, _) = resolve(&[
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ]);
        assert_eq!(config.endpoint, "https://collector:4317");
        let (config, _) = resolve(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "TRUE"),
        ]);
        assert_eq!(config.endpoint, "http://collector:4317");
    }

    #[test]
    fn signal_specific_variables_win() {
        let (config, warnings) = resolve(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "GZIP"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "250"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=2"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/generic.pem"),
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", " /traces.pem "),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.transport, Transport::Grpc);
        assert!(config.gzip);
        assert_eq!(config.timeout, Duration::from_millis(250));
        assert_eq!(config.headers, vec![("b".to_owned(), "2".to_owned())]);
        assert_eq!(config.certificate, Some(PathBuf::from("/traces.pem")));
    }

    #[test]
    fn bad_values_warn_and_fall_back() {
        let (config, warnings) = resolve(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
        ]);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert_eq!(config.transport, Transport::HttpProtobuf);
        assert!(!config.gzip);
        assert_eq!(config.timeout, Duration::from_millis(10_000));
        let (config, warnings) = resolve(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")]);
        assert_eq!(config.transport, Transport::HttpProtobuf);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let (config, warnings) = resolve(&[
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "yes"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ]);
        assert_eq!(config.endpoint, "https://collector:4317");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].variable, "OTEL_EXPORTER_OTLP_TRACES_INSECURE");
    }

    #[test]
    fn headers_are_trimmed_and_percent_decoded_like_the_sdk() {
        assert_eq!(
            parse_headers(" x-api-key = secret ,tenant=a%20b,,=x,empty=,bad=%zz,utf=%C3%A9"),
            vec![
                ("x-api-key".to_owned(), "secret".to_owned()),
                ("tenant".to_owned(), "a b".to_owned()),
                ("bad".to_owned(), "%zz".to_owned()),
                ("utf".to_owned(), "é".to_owned()),
            ]
        );
    }
}
