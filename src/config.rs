//! Configuration: everything lambda-lens reads from its environment, parsed once at start-up.
//!
//! Parsing is pure ([`Config::from_lookup`]) so it can be unit-tested without touching the process
//! environment. A bad optional value never stops the extension: it yields a [`ConfigWarning`] (logged
//! once by the caller) and the documented default. Only a missing or unusable `AWS_LAMBDA_RUNTIME_API`
//! is an error, because without it lambda-lens cannot even register.

use std::fmt;
use std::path::PathBuf;

use http::uri::{Authority, PathAndQuery, Scheme, Uri};

/// Default name; it must equal the extension's file name in `/opt/extensions`.
pub const DEFAULT_EXTENSION_NAME: &str = "lambda-lens";
/// Default proxy port (the port the AWS Runtime API proxy sample uses).
pub const DEFAULT_PROXY_PORT: u16 = 9009;
/// Default Telemetry API listener port.
pub const DEFAULT_TELEMETRY_PORT: u16 = 9010;
/// Default `LAMBDA_LENS_RUNTIME_DONE_WAIT_MS`.
pub const DEFAULT_RUNTIME_DONE_WAIT_MS: u64 = 250;
/// Upper bound for `LAMBDA_LENS_RUNTIME_DONE_WAIT_MS`: the wait adds to the billed duration.
pub const MAX_RUNTIME_DONE_WAIT_MS: u64 = 2000;
/// Where the proxy's address is handed to `lambda-lens-wrapper`.
pub const DEFAULT_HANDOFF_FILE: &str = "/tmp/.lambda-lens/runtime-api";
/// Default number of leading body bytes kept per event, response or error body.
pub const DEFAULT_CAPTURE_BYTES: usize = 4096;
/// Upper bound for `LAMBDA_LENS_CAPTURE_BYTES`: captures live in memory per in-flight invocation.
pub const MAX_CAPTURE_BYTES: usize = 1024 * 1024;

/// Where a Runtime API lives: `http://host:port` plus an optional base path.
///
/// Lambda sets `AWS_LAMBDA_RUNTIME_API` to `host:port` with no scheme; emulators such as cargo-lambda
/// use `http://[::]:9000/.rt`. Both are accepted and the base path is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct RuntimeApiEndpoint {
    authority: Authority,
    base_path: String,
}

/// Why a Runtime API address could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    /// The value was empty.
    #[error("the address is empty")]
    Empty,
    /// A scheme other than `http` was given; the Runtime API is plain HTTP on loopback.
    #[error("unsupported scheme {0:?} (the Runtime API is plain http)")]
    UnsupportedScheme(String),
    /// The value is not `host:port` or `http://host:port[/base]`.
    #[error("not host:port or http://host:port[/base-path]: {0}")]
    Malformed(String),
}

impl RuntimeApiEndpoint {
    /// Parses `host:port` or `http://host:port[/base-path]`.
    pub fn parse(raw: &str) -> Result<Self, EndpointError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(EndpointError::Empty);
        }
        let with_scheme = if raw.contains("://") {
            raw.to_owned()
        } else {
            format!("http://{raw}")
        };
        let uri: Uri = with_scheme
            .parse()
            .map_err(|e: http::uri::InvalidUri| EndpointError::Malformed(format!("{raw} ({e})")))?;
        match uri.scheme() {
            Some(s) if *s == Scheme::HTTP => {}
            Some(s) => return Err(EndpointError::UnsupportedScheme(s.to_string())),
            None => return Err(EndpointError::Malformed(raw.to_owned())),
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| EndpointError::Malformed(raw.to_owned()))?;
        if authority.port_u16().is_none() || authority.host().is_empty() {
            return Err(EndpointError::Malformed(format!(
                "{raw} (a port is required)"
            )));
        }
        if uri.query().is_some() {
            return Err(EndpointError::Malformed(format!(
                "{raw} (no query allowed)"
            )));
        }
        let base_path = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            authority,
            base_path,
        })
    }

    /// The `host:port` part.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The base path, without a trailing slash (empty for plain `host:port`).
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The absolute URI for an API path such as `/2018-06-01/runtime/invocation/next`.
    pub fn uri(&self, path_and_query: &str) -> Uri {
        let pq = format!("{}{}", self.base_path, path_and_query);
        let pq = PathAndQuery::try_from(pq).unwrap_or_else(|_| PathAndQuery::from_static("/"));
        Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(pq)
            .build()
            .expect("scheme, authority and path were each validated")
    }
}

impl fmt::Display for RuntimeApiEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.base_path)
    }
}

impl fmt::Debug for RuntimeApiEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What lambda-lens does when it cannot start observing (for example the proxy cannot listen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupErrorPolicy {
    /// Keep the function running unobserved: the runtime talks to the Runtime API directly.
    PassThrough,
    /// Report `/extension/init/error` so the init fails visibly (for users who must never run
    /// unobserved).
    Fail,
}

/// A configuration value that was ignored in favour of its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The environment variable.
    pub variable: &'static str,
    /// The value that was rejected.
    pub value: String,
    /// What was used instead and why.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?} ignored: {}",
            self.variable, self.value, self.message
        )
    }
}

/// A configuration lambda-lens cannot run with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `AWS_LAMBDA_RUNTIME_API` is not set (lambda-lens is not running inside Lambda).
    #[error("AWS_LAMBDA_RUNTIME_API is not set: lambda-lens must run as a Lambda extension")]
    MissingRuntimeApi,
    /// `AWS_LAMBDA_RUNTIME_API` is set but unusable.
    #[error("AWS_LAMBDA_RUNTIME_API={value:?} is unusable: {source}")]
    BadRuntimeApi {
        /// The raw value.
        value: String,
        /// Why it was rejected.
        source: EndpointError,
    },
}

/// Everything lambda-lens reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `Lambda-Extension-Name` sent at registration (`LAMBDA_LENS_EXTENSION_NAME`).
    pub extension_name: String,
    /// The real Runtime/Extensions API (`AWS_LAMBDA_RUNTIME_API`): lifecycle calls go here.
    pub runtime_api: RuntimeApiEndpoint,
    /// Where the proxy forwards runtime calls (`LAMBDA_LENS_RUNTIME_API_UPSTREAM`, else `runtime_api`);
    /// lets several proxies be chained.
    pub upstream: RuntimeApiEndpoint,
    /// Proxy listener port on 127.0.0.1 (`LAMBDA_LENS_PROXY_PORT`; 0 picks a free port).
    pub proxy_port: u16,
    /// Telemetry API listener port (`LAMBDA_LENS_TELEMETRY_PORT`; 0 picks a free port).
    pub telemetry_port: u16,
    /// File the proxy address is written to for the wrapper (`LAMBDA_LENS_HANDOFF_FILE`).
    pub handoff_file: PathBuf,
    /// Leading bytes of each body kept for observation (`LAMBDA_LENS_CAPTURE_BYTES`).
    pub capture_bytes: usize,
    /// What to do when observation cannot start (`LAMBDA_LENS_ON_STARTUP_ERROR`).
    pub on_startup_error: StartupErrorPolicy,
    /// Longest wait after a result for `platform.runtimeDone` (`LAMBDA_LENS_RUNTIME_DONE_WAIT_MS`;
    /// 0 closes invocations on the proxy's view alone).
    pub runtime_done_wait: std::time::Duration,
    /// Disable the proxy entirely (`LAMBDA_LENS_DISABLED=true`): lifecycle only.
    pub disabled: bool,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE` (`on-demand`, `lambda-managed-instances`, ...).
    pub initialization_type: Option<String>,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<(Self, Vec<ConfigWarning>), ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the configuration through `lookup`; empty values count as unset (OpenTelemetry rule).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(Self, Vec<ConfigWarning>), ConfigError> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let mut warnings = Vec::new();

        let raw_api = get("AWS_LAMBDA_RUNTIME_API").ok_or(ConfigError::MissingRuntimeApi)?;
        let runtime_api =
            RuntimeApiEndpoint::parse(&raw_api).map_err(|source| ConfigError::BadRuntimeApi {
                value: raw_api.clone(),
                source,
            })?;

        let upstream = match get("LAMBDA_LENS_RUNTIME_API_UPSTREAM") {
            None => runtime_api.clone(),
            Some(raw) => RuntimeApiEndpoint::parse(&raw).unwrap_or_else(|e| {
                warnings.push(ConfigWarning {
                    variable: "LAMBDA_LENS_RUNTIME_API_UPSTREAM",
                    value: raw.clone(),
                    message: format!("{e}; forwarding to AWS_LAMBDA_RUNTIME_API ({runtime_api})"),
                });
                runtime_api.clone()
            }),
        };

        let proxy_port = parse_or_default(
            &get,
            "LAMBDA_LENS_PROXY_PORT",
            DEFAULT_PROXY_PORT,
            &mut warnings,
            |raw| raw.trim().parse::<u16>().ok(),
            "expected a port number 0-65535",
        );
        let telemetry_port = parse_or_default(
            &get,
            "LAMBDA_LENS_TELEMETRY_PORT",
            DEFAULT_TELEMETRY_PORT,
            &mut warnings,
            |raw| raw.trim().parse::<u16>().ok(),
            "expected a port number 0-65535",
        );
        let capture_bytes = parse_or_default(
            &get,
            "LAMBDA_LENS_CAPTURE_BYTES",
            DEFAULT_CAPTURE_BYTES,
            &mut warnings,
            |raw| {
                raw.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n <= MAX_CAPTURE_BYTES)
            },
            "expected a byte count from 0 to 1048576",
        );
        let on_startup_error = parse_or_default(
            &get,
            "LAMBDA_LENS_ON_STARTUP_ERROR",
            StartupErrorPolicy::PassThrough,
            &mut warnings,
            |raw| match raw.trim().to_ascii_lowercase().as_str() {
                "passthrough" | "pass-through" => Some(StartupErrorPolicy::PassThrough),
                "fail" => Some(StartupErrorPolicy::Fail),
                _ => None,
            },
            "expected passthrough or fail",
        );
        let runtime_done_wait_ms = parse_or_default(
            &get,
            "LAMBDA_LENS_RUNTIME_DONE_WAIT_MS",
            DEFAULT_RUNTIME_DONE_WAIT_MS,
            &mut warnings,
            |raw| {
                raw.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|ms| *ms <= MAX_RUNTIME_DONE_WAIT_MS)
            },
            "expected milliseconds from 0 to 2000",
        );
        let disabled = parse_or_default(
            &get,
            "LAMBDA_LENS_DISABLED",
            false,
            &mut warnings,
            parse_bool,
            "expected true or false",
        );

        let config = Config {
            extension_name: get("LAMBDA_LENS_EXTENSION_NAME")
                .unwrap_or_else(|| DEFAULT_EXTENSION_NAME.to_owned()),
            runtime_api,
            upstream,
            proxy_port,
            telemetry_port,
            handoff_file: get("LAMBDA_LENS_HANDOFF_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_HANDOFF_FILE)),
            capture_bytes,
            on_startup_error,
            runtime_done_wait: std::time::Duration::from_millis(runtime_done_wait_ms),
            disabled,
            initialization_type: get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        };
        Ok((config, warnings))
    }
}

/// Booleans as OpenTelemetry reads them: `true`/`false`, case-insensitive.
fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn parse_or_default<T: fmt::Debug>(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: T,
    warnings: &mut Vec<ConfigWarning>,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> T {
    let Some(raw) = get(variable) else {
        return default;
    };
    parse(&raw).unwrap_or_else(|| {
        warnings.push(ConfigWarning {
            variable,
            value: raw,
            message: format!("{expected}; using the default {default:?}"),
        });
        default
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn endpoint_accepts_lambda_form_without_scheme() {
        let ep = RuntimeApiEndpoint::parse("127.0.0.1:9001").expect("lambda form parses");
        assert_eq!(ep.authority().as_str(), "127.0.0.1:9001");
        assert_eq!(ep.base_path(), "");
        assert_eq!(
            ep.uri("/2018-06-01/runtime/invocation/next").to_string(),
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next"
        );
    }

    #[test]
    fn endpoint_keeps_scheme_and_base_path_of_emulators() {
        let ep = RuntimeApiEndpoint::parse("http://[::]:9000/.rt/").expect("emulator form parses");
        assert_eq!(ep.authority().as_str(), "[::]:9000");
        assert_eq!(ep.base_path(), "/.rt");
        assert_eq!(
            ep.uri("/2020-01-01/extension/register?x=1").to_string(),
            "http://[::]:9000/.rt/2020-01-01/extension/register?x=1"
        );
        assert_eq!(ep.to_string(), "http://[::]:9000/.rt");
    }

    #[test]
    fn endpoint_rejects_unusable_values() {
        assert_eq!(RuntimeApiEndpoint::parse(" "), Err(EndpointError::Empty));
        assert!(matches!(
            RuntimeApiEndpoint::parse("https://127.0.0.1:9001"),
            Err(EndpointError::UnsupportedScheme(s)) if s == "https"
        ));
        assert!(matches!(
            RuntimeApiEndpoint::parse("127.0.0.1"),
            Err(EndpointError::Malformed(_))
        ));
        assert!(matches!(
            RuntimeApiEndpoint::parse("not a url at all"),
            Err(EndpointError::Malformed(_))
        ));
    }

    #[test]
    fn defaults_apply_when_only_the_runtime_api_is_set() {
        let (cfg, warnings) = config(&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")])
            .expect("minimal environment is valid");
        assert!(warnings.is_empty());
        assert_eq!(cfg.extension_name, "lambda-lens");
        assert_eq!(cfg.upstream, cfg.runtime_api);
        assert_eq!(cfg.proxy_port, 9009);
        assert_eq!(cfg.telemetry_port, 9010);
        assert_eq!(cfg.runtime_done_wait, std::time::Duration::from_millis(250));
        assert_eq!(cfg.handoff_file, PathBuf::from(DEFAULT_HANDOFF_FILE));
        assert_eq!(cfg.capture_bytes, 4096);
        assert_eq!(cfg.on_startup_error, StartupErrorPolicy::PassThrough);
        assert!(!cfg.disabled);
    }

    #[test]
    fn missing_or_bad_runtime_api_is_an_error() {
        assert_eq!(config(&[]), Err(ConfigError::MissingRuntimeApi));
        assert_eq!(
            config(&[("AWS_LAMBDA_RUNTIME_API", "")]),
            Err(ConfigError::MissingRuntimeApi)
        );
        assert!(matches!(
            config(&[("AWS_LAMBDA_RUNTIME_API", "ftp://x:1")]),
            Err(ConfigError::BadRuntimeApi { .. })
        ));
    }

    #[test]
    fn bad_optional_values_warn_and_fall_back() {
        let (cfg, warnings) = config(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("LAMBDA_LENS_RUNTIME_API_UPSTREAM", "::::"),
            ("LAMBDA_LENS_PROXY_PORT", "70000"),
            ("LAMBDA_LENS_CAPTURE_BYTES", "lots"),
            ("LAMBDA_LENS_ON_STARTUP_ERROR", "explode"),
            ("LAMBDA_LENS_DISABLED", "yes"),
        ])
        .expect("bad optional values are not fatal");
        assert_eq!(cfg.upstream, cfg.runtime_api);
        assert_eq!(cfg.proxy_port, DEFAULT_PROXY_PORT);
        assert_eq!(cfg.capture_bytes, DEFAULT_CAPTURE_BYTES);
        assert_eq!(cfg.on_startup_error, StartupErrorPolicy::PassThrough);
        assert!(!cfg.disabled);
        let vars: Vec<_> = warnings.iter().map(|w| w.variable).collect();
        assert_eq!(
            vars,
            [
                "LAMBDA_LENS_RUNTIME_API_UPSTREAM",
                "LAMBDA_LENS_PROXY_PORT",
                "LAMBDA_LENS_CAPTURE_BYTES",
                "LAMBDA_LENS_ON_STARTUP_ERROR",
                "LAMBDA_LENS_DISABLED"
            ]
        );
        assert!(warnings[1]
            .to_string()
            .contains("LAMBDA_LENS_PROXY_PORT=\"70000\" ignored"));
    }

    #[test]
    fn overrides_are_honoured() {
        let (cfg, warnings) = config(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            (
                "LAMBDA_LENS_RUNTIME_API_UPSTREAM",
                "http://127.0.0.1:9100/chain",
            ),
            ("LAMBDA_LENS_EXTENSION_NAME", "lens-x86"),
            ("LAMBDA_LENS_PROXY_PORT", "0"),
            ("LAMBDA_LENS_HANDOFF_FILE", "/tmp/h"),
            ("LAMBDA_LENS_CAPTURE_BYTES", "0"),
            ("LAMBDA_LENS_ON_STARTUP_ERROR", "FAIL"),
            ("LAMBDA_LENS_DISABLED", "TRUE"),
        ])
        .expect("valid overrides");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(cfg.upstream.to_string(), "http://127.0.0.1:9100/chain");
        assert_eq!(cfg.runtime_api.to_string(), "http://127.0.0.1:9001");
        assert_eq!(cfg.extension_name, "lens-x86");
        assert_eq!(cfg.proxy_port, 0);
        assert_eq!(cfg.handoff_file, PathBuf::from("/tmp/h"));
        assert_eq!(cfg.capture_bytes, 0);
        assert_eq!(cfg.on_startup_error, StartupErrorPolicy::Fail);
        assert!(cfg.disabled);
    }
}
