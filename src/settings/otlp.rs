//! The standard `OTEL_EXPORTER_OTLP_*` variables, resolved per signal (traces, metrics, logs) as the
//! OTLP exporter specification says: the signal-specific variable (`OTEL_EXPORTER_OTLP_LOGS_TIMEOUT`)
//! wins over the generic one (`OTEL_EXPORTER_OTLP_TIMEOUT`), `OTEL_EXPORTER_OTLP_ENDPOINT` gets
//! `/v1/<signal>` appended for HTTP while the signal's own endpoint is used as is, header values are
//! percent-decoded, and a bad value yields a warning and the default.
//!
//! Resolving them here, from a lookup, keeps export testable without touching the (process-global)
//! environment.

use std::path::PathBuf;
use std::time::Duration;

use super::parse::{key_values, one_of, percent_decode, Bounds, Env};
use super::variable::{Fallback, Variable};
use super::SettingsGroup;

/// Default OTLP/HTTP collector base URL (the specification's default).
const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
/// Default OTLP/gRPC collector URL (the specification's default).
const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// Default per-request timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`).
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(10_000);

/// One of the three OTLP signals lambda-lens exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metric data points.
    Metrics,
    /// Log records.
    Logs,
}

impl Signal {
    /// The three signals, in the order they are read and flushed.
    pub const ALL: [Self; 3] = [Self::Traces, Self::Metrics, Self::Logs];

    /// The signal's name in variable names and URL paths (`traces`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Traces => "traces",
            Self::Metrics => "metrics",
            Self::Logs => "logs",
        }
    }

    /// The path appended to `OTEL_EXPORTER_OTLP_ENDPOINT` for OTLP/HTTP (`/v1/traces`).
    pub fn http_path(self) -> &'static str {
        match self {
            Self::Traces => "/v1/traces",
            Self::Metrics => "/v1/metrics",
            Self::Logs => "/v1/logs",
        }
    }

    /// The signal's own variables.
    fn variables(self) -> &'static SignalVariables {
        match self {
            Self::Traces => &TRACES,
            Self::Metrics => &METRICS,
            Self::Logs => &LOGS,
        }
    }
}

/// The variables of one signal, or the generic ones every signal falls back to.
struct SignalVariables {
    endpoint: Variable,
    protocol: Variable,
    headers: Variable,
    compression: Variable,
    timeout: Variable,
    insecure: Variable,
    certificate: Variable,
}

impl SignalVariables {
    const fn new(
        [endpoint, protocol, headers, compression, timeout, insecure, certificate]: [&'static str;
            7],
        endpoint_fallback: Fallback,
    ) -> Self {
        Self {
            endpoint: Variable::user(endpoint, endpoint_fallback),
            protocol: Variable::user(protocol, Fallback::Value("http/protobuf")),
            headers: Variable::user(headers, Fallback::None),
            compression: Variable::user(compression, Fallback::Value("none")),
            timeout: Variable::user(timeout, Fallback::Value("10000")),
            insecure: Variable::user(insecure, Fallback::Value("false")),
            certificate: Variable::user(certificate, Fallback::None),
        }
    }

    const fn all(&self) -> [Variable; 7] {
        [
            self.endpoint,
            self.protocol,
            self.headers,
            self.compression,
            self.timeout,
            self.insecure,
            self.certificate,
        ]
    }
}

const GENERIC: SignalVariables = SignalVariables::new(
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_INSECURE",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
    ],
    Fallback::Value(DEFAULT_HTTP_ENDPOINT),
);
const TRACES: SignalVariables = SignalVariables::new(
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    ],
    Fallback::None,
);
const METRICS: SignalVariables = SignalVariables::new(
    [
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
        "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
        "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    ],
    Fallback::None,
);
const LOGS: SignalVariables = SignalVariables::new(
    [
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
        "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
        "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
        "OTEL_EXPORTER_OTLP_LOGS_INSECURE",
        "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
    ],
    Fallback::None,
);

/// The generic endpoint (X-Ray export warns that it is not used).
pub(super) const ENDPOINT: Variable = GENERIC.endpoint;
/// The generic protocol.
pub(super) const PROTOCOL: Variable = GENERIC.protocol;

/// The variables of this group.
pub(super) const VARIABLES: &[Variable] = &concat_variables();

const fn concat_variables() -> [Variable; 28] {
    let groups = [GENERIC.all(), TRACES.all(), METRICS.all(), LOGS.all()];
    let mut all = [GENERIC.endpoint; 28];
    let mut group = 0;
    while group < groups.len() {
        let mut index = 0;
        while index < 7 {
            all[group * 7 + index] = groups[group][index];
            index += 1;
        }
        group += 1;
    }
    all
}

/// `signal`'s endpoint and protocol variables, then the generic ones (X-Ray export warns about
/// the ones it overrides).
pub(super) fn endpoint_variables(signal: Signal) -> [Variable; 2] {
    [signal.variables().endpoint, ENDPOINT]
}

/// `signal`'s protocol variable and the generic one.
pub(super) fn protocol_variables(signal: Signal) -> [Variable; 2] {
    [signal.variables().protocol, PROTOCOL]
}

/// The wire protocol a signal is exported with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// OTLP/HTTP with a protobuf body (`http/protobuf`, the default; also used for `http/json`).
    HttpProtobuf,
    /// OTLP/gRPC (`grpc`).
    Grpc,
}

/// Where and how one signal is sent to an OTLP collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSettings {
    /// The signal these settings are for.
    pub signal: Signal,
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
    /// The specification's defaults for traces: OTLP/HTTP to `localhost:4318`, uncompressed, 10 s.
    fn default() -> Self {
        Self::default_for(Signal::Traces)
    }
}

impl SettingsGroup for OtlpSettings {
    /// Reads the trace signal's settings.
    fn read(env: &mut Env<'_>) -> Self {
        Self::read_signal(env, Signal::Traces)
    }
}

impl OtlpSettings {
    /// The specification's defaults for `signal`.
    pub fn default_for(signal: Signal) -> Self {
        Self {
            signal,
            transport: Transport::HttpProtobuf,
            endpoint: append_path(DEFAULT_HTTP_ENDPOINT, signal),
            headers: Vec::new(),
            gzip: false,
            timeout: DEFAULT_TIMEOUT,
            certificate: None,
        }
    }

    /// Reads `signal`'s settings: its own variables, else the generic ones.
    pub(super) fn read_signal(env: &mut Env<'_>, signal: Signal) -> Self {
        let own = signal.variables();
        let transport = match env.find(&[own.protocol, GENERIC.protocol]) {
            None => Transport::HttpProtobuf,
            Some((variable, value)) if value.trim().eq_ignore_ascii_case("http/json") => {
                // Every OTLP/HTTP receiver must accept protobuf, so this still delivers.
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

        let endpoint = match (transport, env.get(&own.endpoint)) {
            (Transport::HttpProtobuf, Some(url)) => url.trim().to_owned(),
            (Transport::HttpProtobuf, None) => append_path(
                &env.get(&GENERIC.endpoint)
                    .unwrap_or_else(|| DEFAULT_HTTP_ENDPOINT.to_owned()),
                signal,
            ),
            // gRPC has no per-signal path: the service method names the signal.
            (Transport::Grpc, own_endpoint) => {
                let endpoint = own_endpoint
                    .or_else(|| env.get(&GENERIC.endpoint))
                    .unwrap_or_else(|| DEFAULT_GRPC_ENDPOINT.to_owned());
                let insecure = env.flag(&[own.insecure, GENERIC.insecure], false);
                with_grpc_scheme(endpoint.trim(), insecure)
            }
        };

        let headers = env
            .find(&[own.headers, GENERIC.headers])
            .map(|(_, value)| parse_headers(&value))
            .unwrap_or_default();
        let gzip = env.parse(
            &[own.compression, GENERIC.compression],
            false,
            "expected gzip or none",
            |raw| one_of(raw, &[("gzip", true), ("none", false)]),
        );
        let timeout = env.millis(
            &[own.timeout, GENERIC.timeout],
            DEFAULT_TIMEOUT,
            Bounds::at_least(1),
        );
        let certificate = env
            .find(&[own.certificate, GENERIC.certificate])
            .map(|(_, path)| PathBuf::from(path.trim()));

        Self {
            signal,
            transport,
            endpoint,
            headers,
            gzip,
            timeout,
            certificate,
        }
    }
}

/// `base` + `/v1/<signal>` without doubling the slash.
fn append_path(base: &str, signal: Signal) -> String {
    let base = base.trim();
    let base = base.strip_suffix('/').unwrap_or(base);
    format!("{base}{}", signal.http_path())
}

/// Per the OTLP exporter specification a gRPC endpoint without a scheme uses TLS unless
/// `..._INSECURE=true`; the scheme is added here, so the transport uses the endpoint as given.
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

/// Parses `k=v,k2=v2` as the OpenTelemetry SDKs do: entries and keys trimmed, values trimmed and
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
