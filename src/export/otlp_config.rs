//! Resolution of the standard `OTEL_EXPORTER_OTLP_*` variables for traces from a lookup function.
//!
//! opentelemetry-otlp reads these variables from the process environment itself; resolving them
//! here from a lookup instead keeps the exporter testable without mutating the (process-global)
//! environment. The rules follow the OTLP exporter specification and opentelemetry-otlp 0.33:
//! an empty value is unset, the signal-specific variable wins over the generic one,
//! `OTEL_EXPORTER_OTLP_ENDPOINT` gets `/v1/traces` appended for HTTP while
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is, header values are percent-decoded, and a
//! bad value yields a warning and the default.

use std::path::PathBuf;
use std::time::Duration;

/// Default OTLP/HTTP collector base URL (the specification's default).
const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
/// Default OTLP/gRPC collector URL (the specification's default).
const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// Path appended to `OTEL_EXPORTER_OTLP_ENDPOINT` for HTTP trace exports.
const HTTP_TRACES_PATH: &str = "/v1/traces";
/// Default per-request timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`), in milliseconds.
const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// The wire protocol spans are exported with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// OTLP/HTTP with a protobuf body (`http/protobuf`, the default; also used for `http/json`).
    HttpProtobuf,
    /// OTLP/gRPC (`grpc`).
    Grpc,
}

/// The exporter settings resolved from the `OTEL_EXPORTER_OTLP_*` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OtlpConfig {
    pub(crate) transport: Transport,
    /// The full URL requests go to: for HTTP including the path, for gRPC with a scheme.
    pub(crate) endpoint: String,
    /// Extra request headers (gRPC metadata), values already percent-decoded.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) gzip: bool,
    pub(crate) timeout: Duration,
    /// `OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE`: a PEM file of CA certificates trusted in
    /// addition to the bundled roots.
    pub(crate) certificate: Option<PathBuf>,
}

impl OtlpConfig {
    /// Resolves the configuration; `lookup` must already treat empty values as unset.
    pub(crate) fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let signal_first = |signal: &str, generic: &str| {
            lookup(signal)
                .map(|value| (signal.to_owned(), value))
                .or_else(|| lookup(generic).map(|value| (generic.to_owned(), value)))
        };

        let transport = match signal_first(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ) {
            None => Transport::HttpProtobuf,
            Some((name, value)) => match value.trim().to_ascii_lowercase().as_str() {
                "grpc" => Transport::Grpc,
                "http/protobuf" => Transport::HttpProtobuf,
                "http/json" => {
                    // opentelemetry-otlp is built without its http-json feature (smaller binary);
                    // every OTLP/HTTP receiver must accept protobuf, so this still delivers.
                    warnings.push(format!(
                        "{name}=http/json is not supported by this build; using http/protobuf"
                    ));
                    Transport::HttpProtobuf
                }
                _ => {
                    warnings.push(format!(
                        "{name}={value:?} is not grpc, http/protobuf or http/json; using http/protobuf"
                    ));
                    Transport::HttpProtobuf
                }
            },
        };

        let endpoint = match (transport, lookup("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
            (Transport::HttpProtobuf, Some(url)) => url.trim().to_owned(),
            (Transport::HttpProtobuf, None) => append_traces_path(
                &lookup("OTEL_EXPORTER_OTLP_ENDPOINT")
                    .unwrap_or_else(|| DEFAULT_HTTP_ENDPOINT.to_owned()),
            ),
            // gRPC has no per-signal path: the service method names the signal.
            (Transport::Grpc, signal) => with_grpc_scheme(
                signal
                    .or_else(|| lookup("OTEL_EXPORTER_OTLP_ENDPOINT"))
                    .unwrap_or_else(|| DEFAULT_GRPC_ENDPOINT.to_owned())
                    .trim(),
                insecure(lookup),
            ),
        };

        let headers = signal_first(
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        )
        .map(|(_, value)| parse_headers(&value))
        .unwrap_or_default();

        let gzip = match signal_first(
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
        ) {
            None => false,
            Some((name, value)) => match value.trim().to_ascii_lowercase().as_str() {
                "gzip" => true,
                "none" => false,
                _ => {
                    warnings.push(format!(
                        "{name}={value:?} is not gzip or none; sending uncompressed"
                    ));
                    false
                }
            },
        };

        let timeout_ms = match signal_first(
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ) {
            None => DEFAULT_TIMEOUT_MS,
            Some((name, value)) => match value.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => ms,
                _ => {
                    warnings.push(format!(
                        "{name}={value:?} is not a positive number of milliseconds; using {DEFAULT_TIMEOUT_MS}"
                    ));
                    DEFAULT_TIMEOUT_MS
                }
            },
        };

        let certificate = signal_first(
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
        )
        .map(|(_, path)| PathBuf::from(path.trim()));

        let config = Self {
            transport,
            endpoint,
            headers,
            gzip,
            timeout: Duration::from_millis(timeout_ms),
            certificate,
        };
        (config, warnings)
    }
}

/// `base` + `/v1/traces` without doubling the slash (as opentelemetry-otlp does).
fn append_traces_path(base: &str) -> String {
    let base = base.trim();
    let base = base.strip_suffix('/').unwrap_or(base);
    format!("{base}{HTTP_TRACES_PATH}")
}

/// `OTEL_EXPORTER_OTLP_TRACES_INSECURE` / `OTEL_EXPORTER_OTLP_INSECURE`: only `true` counts.
fn insecure(lookup: &dyn Fn(&str) -> Option<String>) -> bool {
    lookup("OTEL_EXPORTER_OTLP_TRACES_INSECURE")
        .or_else(|| lookup("OTEL_EXPORTER_OTLP_INSECURE"))
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
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
    raw.split(',')
        .filter_map(|entry| {
            let (key, value) = entry.trim().split_once('=')?;
            let (key, value) = (key.trim(), value.trim());
            let value = percent_decode(value).unwrap_or_else(|| value.to_owned());
            (!key.is_empty() && !value.is_empty()).then(|| (key.to_owned(), value))
        })
        .collect()
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
pub(crate) fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = value.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn resolve(vars: &[(&str, &str)]) -> (OtlpConfig, Vec<String>) {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        OtlpConfig::from_lookup(&|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_specification() {
        let (config, warnings) = resolve(&[]);
        assert!(warnings.is_empty(), "{warnings:?}");
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
