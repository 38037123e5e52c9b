//! Where lambda-lens sits: the Runtime API it registers with and forwards to, the extension's
//! name, the proxy and telemetry ports, the hand-off file, what happens when observation cannot
//! start, how long an invocation waits for the platform's `runtimeDone`, and whether the environment
//! is Lambda Managed Instances.
//!
//! The only setting lambda-lens cannot run without is `AWS_LAMBDA_RUNTIME_API`: without it there is
//! nothing to register with, so a missing or unusable value is a [`SettingsError`].

use std::path::PathBuf;
use std::time::Duration;

use super::endpoint::{EndpointError, RuntimeApiEndpoint};
use super::parse::{one_of, Bounds, Env};
use super::variable::{Fallback, Variable};

/// Default name; it must equal the extension's file name in `/opt/extensions`.
pub const DEFAULT_EXTENSION_NAME: &str = "lambda-lens";
/// Default proxy port (the port the AWS Runtime API proxy sample uses).
pub const DEFAULT_PROXY_PORT: u16 = 9009;
/// Default Telemetry API listener port.
pub const DEFAULT_TELEMETRY_PORT: u16 = 9010;
/// `AWS_LAMBDA_INITIALIZATION_TYPE` of Lambda Managed Instances.
pub const MANAGED_INSTANCES: &str = "lambda-managed-instances";
/// Default `LAMBDA_LENS_RUNTIME_DONE_WAIT_MS` (zero on Lambda Managed Instances).
pub const DEFAULT_RUNTIME_DONE_WAIT: Duration = Duration::from_millis(250);
/// Upper bound for `LAMBDA_LENS_RUNTIME_DONE_WAIT_MS`: the wait adds to the billed duration.
pub const MAX_RUNTIME_DONE_WAIT_MS: u64 = 2000;
/// Where the proxy's address is handed to `lambda-lens-wrapper`.
pub const DEFAULT_HANDOFF_FILE: &str = "/tmp/.lambda-lens/runtime-api";

pub(super) const RUNTIME_API: Variable = Variable::platform("AWS_LAMBDA_RUNTIME_API");
pub(super) const INITIALIZATION_TYPE: Variable =
    Variable::platform("AWS_LAMBDA_INITIALIZATION_TYPE");
pub(super) const UPSTREAM: Variable = Variable::user(
    "LAMBDA_LENS_RUNTIME_API_UPSTREAM",
    Fallback::Described("AWS_LAMBDA_RUNTIME_API"),
);
pub(super) const EXTENSION_NAME: Variable = Variable::user(
    "LAMBDA_LENS_EXTENSION_NAME",
    Fallback::Value(DEFAULT_EXTENSION_NAME),
);
pub(super) const PROXY_PORT: Variable =
    Variable::user("LAMBDA_LENS_PROXY_PORT", Fallback::Value("9009"));
pub(super) const TELEMETRY_PORT: Variable =
    Variable::user("LAMBDA_LENS_TELEMETRY_PORT", Fallback::Value("9010"));
pub(super) const HANDOFF_FILE: Variable = Variable::user(
    "LAMBDA_LENS_HANDOFF_FILE",
    Fallback::Value(DEFAULT_HANDOFF_FILE),
);
pub(super) const ON_STARTUP_ERROR: Variable = Variable::user(
    "LAMBDA_LENS_ON_STARTUP_ERROR",
    Fallback::Value("passthrough"),
);
pub(super) const RUNTIME_DONE_WAIT_MS: Variable = Variable::user(
    "LAMBDA_LENS_RUNTIME_DONE_WAIT_MS",
    Fallback::Described("`250`; `0` on Lambda Managed Instances"),
);
pub(super) const DISABLED: Variable =
    Variable::user("LAMBDA_LENS_DISABLED", Fallback::Value("false"));

/// The variables of this group.
pub(super) const VARIABLES: &[Variable] = &[
    RUNTIME_API,
    INITIALIZATION_TYPE,
    UPSTREAM,
    EXTENSION_NAME,
    PROXY_PORT,
    TELEMETRY_PORT,
    HANDOFF_FILE,
    ON_STARTUP_ERROR,
    RUNTIME_DONE_WAIT_MS,
    DISABLED,
];

/// Whether an `AWS_LAMBDA_INITIALIZATION_TYPE` value names Lambda Managed Instances.
pub fn is_managed_instances(initialization_type: Option<&str>) -> bool {
    initialization_type.is_some_and(|t| t.eq_ignore_ascii_case(MANAGED_INSTANCES))
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

/// Settings lambda-lens cannot run with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
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

/// Where lambda-lens sits and how it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSettings {
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
    /// What to do when observation cannot start (`LAMBDA_LENS_ON_STARTUP_ERROR`).
    pub on_startup_error: StartupErrorPolicy,
    /// Longest wait after a result for `platform.runtimeDone` (`LAMBDA_LENS_RUNTIME_DONE_WAIT_MS`;
    /// 0 closes invocations on the proxy's view alone).
    pub runtime_done_wait: Duration,
    /// Disable the proxy entirely (`LAMBDA_LENS_DISABLED=true`): lifecycle only.
    pub disabled: bool,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE` (`on-demand`, `lambda-managed-instances`, ...).
    pub initialization_type: Option<String>,
}

impl RuntimeSettings {
    /// Reads the group; only `AWS_LAMBDA_RUNTIME_API` can make it fail.
    pub(super) fn read(env: &mut Env<'_>) -> Result<Self, SettingsError> {
        let raw_api = env
            .get(&RUNTIME_API)
            .ok_or(SettingsError::MissingRuntimeApi)?;
        let runtime_api =
            RuntimeApiEndpoint::parse(&raw_api).map_err(|source| SettingsError::BadRuntimeApi {
                value: raw_api.clone(),
                source,
            })?;

        let upstream = match env.get(&UPSTREAM) {
            None => runtime_api.clone(),
            Some(raw) => RuntimeApiEndpoint::parse(&raw).unwrap_or_else(|e| {
                env.warn(
                    &UPSTREAM,
                    &raw,
                    format!("{e}; forwarding to AWS_LAMBDA_RUNTIME_API ({runtime_api})"),
                );
                runtime_api.clone()
            }),
        };
        let ports = Bounds::between(0, u16::MAX);
        let proxy_port = env.integer(&PROXY_PORT, DEFAULT_PROXY_PORT, "a port number", ports);
        let telemetry_port = env.integer(
            &TELEMETRY_PORT,
            DEFAULT_TELEMETRY_PORT,
            "a port number",
            ports,
        );
        let on_startup_error = env.parse(
            &ON_STARTUP_ERROR,
            StartupErrorPolicy::PassThrough,
            "expected passthrough or fail",
            |raw| {
                one_of(
                    raw,
                    &[
                        ("passthrough", StartupErrorPolicy::PassThrough),
                        ("pass-through", StartupErrorPolicy::PassThrough),
                        ("fail", StartupErrorPolicy::Fail),
                    ],
                )
            },
        );
        let initialization_type = env.get(&INITIALIZATION_TYPE);
        // Managed Instances emit no `runtimeDone`: waiting for it would only hold every span back.
        let runtime_done_default = if is_managed_instances(initialization_type.as_deref()) {
            Duration::ZERO
        } else {
            DEFAULT_RUNTIME_DONE_WAIT
        };
        let runtime_done_wait = env.millis(
            &RUNTIME_DONE_WAIT_MS,
            runtime_done_default,
            Bounds::between(0, MAX_RUNTIME_DONE_WAIT_MS),
        );
        let disabled = env.flag(&DISABLED, false);

        Ok(Self {
            extension_name: env
                .get(&EXTENSION_NAME)
                .unwrap_or_else(|| DEFAULT_EXTENSION_NAME.to_owned()),
            runtime_api,
            upstream,
            proxy_port,
            telemetry_port,
            handoff_file: env
                .get(&HANDOFF_FILE)
                .map_or_else(|| PathBuf::from(DEFAULT_HANDOFF_FILE), PathBuf::from),
            on_startup_error,
            runtime_done_wait,
            disabled,
            initialization_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::fixed;
    use super::*;
    use crate::settings::SettingWarning;

    fn runtime(
        vars: &[(&str, &str)],
    ) -> Result<(RuntimeSettings, Vec<SettingWarning>), SettingsError> {
        let lookup = fixed(vars);
        let mut env = Env::new(&lookup);
        let settings = RuntimeSettings::read(&mut env)?;
        Ok((settings, env.into_warnings()))
    }

    #[test]
    fn defaults_apply_when_only_the_runtime_api_is_set() {
        let (cfg, warnings) = runtime(&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")])
            .expect("minimal environment is valid");
        assert!(warnings.is_empty());
        assert_eq!(cfg.extension_name, "lambda-lens");
        assert_eq!(cfg.upstream, cfg.runtime_api);
        assert_eq!(cfg.proxy_port, 9009);
        assert_eq!(cfg.telemetry_port, 9010);
        assert_eq!(cfg.runtime_done_wait, Duration::from_millis(250));
        assert_eq!(cfg.handoff_file, PathBuf::from(DEFAULT_HANDOFF_FILE));
        assert_eq!(cfg.on_startup_error, StartupErrorPolicy::PassThrough);
        assert!(!cfg.disabled);
    }

    #[test]
    fn managed_instances_do_not_wait_for_runtime_done_unless_told() {
        let managed = ("AWS_LAMBDA_INITIALIZATION_TYPE", "lambda-managed-instances");
        let api = ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
        let (cfg, _) = runtime(&[api, managed]).expect("valid");
        assert_eq!(cfg.runtime_done_wait, Duration::ZERO);
        let (cfg, _) =
            runtime(&[api, managed, ("LAMBDA_LENS_RUNTIME_DONE_WAIT_MS", "100")]).expect("valid");
        assert_eq!(cfg.runtime_done_wait, Duration::from_millis(100));
        assert!(is_managed_instances(Some("LAMBDA-MANAGED-INSTANCES")));
        assert!(!is_managed_instances(Some("on-demand")));
        assert!(!is_managed_instances(None));
    }

    #[test]
    fn missing_or_bad_runtime_api_is_an_error() {
        assert_eq!(runtime(&[]), Err(SettingsError::MissingRuntimeApi));
        assert_eq!(
            runtime(&[("AWS_LAMBDA_RUNTIME_API", "")]),
            Err(SettingsError::MissingRuntimeApi)
        );
        assert!(matches!(
            runtime(&[("AWS_LAMBDA_RUNTIME_API", "ftp://x:1")]),
            Err(SettingsError::BadRuntimeApi { .. })
        ));
    }

    #[test]
    fn bad_optional_values_warn_and_fall_back() {
        let (cfg, warnings) = runtime(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("LAMBDA_LENS_RUNTIME_API_UPSTREAM", "::::"),
            ("LAMBDA_LENS_PROXY_PORT", "70000"),
            ("LAMBDA_LENS_ON_STARTUP_ERROR", "explode"),
            ("LAMBDA_LENS_RUNTIME_DONE_WAIT_MS", "2001"),
            ("LAMBDA_LENS_DISABLED", "yes"),
        ])
        .expect("bad optional values are not fatal");
        assert_eq!(cfg.upstream, cfg.runtime_api);
        assert_eq!(cfg.proxy_port, DEFAULT_PROXY_PORT);
        assert_eq!(cfg.on_startup_error, StartupErrorPolicy::PassThrough);
        assert_eq!(cfg.runtime_done_wait, DEFAULT_RUNTIME_DONE_WAIT);
        assert!(!cfg.disabled);
        let vars: Vec<_> = warnings.iter().map(|w| w.variable).collect();
        assert_eq!(
            vars,
            [
                "LAMBDA_LENS_RUNTIME_API_UPSTREAM",
                "LAMBDA_LENS_PROXY_PORT",
                "LAMBDA_LENS_ON_STARTUP_ERROR",
                "LAMBDA_LENS_RUNTIME_DONE_WAIT_MS",
                "LAMBDA_LENS_DISABLED"
            ]
        );
        assert!(warnings[1]
            .to_string()
            .contains("LAMBDA_LENS_PROXY_PORT=\"70000\" ignored"));
        assert!(
            warnings[0]
                .to_string()
                .contains("forwarding to AWS_LAMBDA_RUNTIME_API (http://127.0.0.1:9001)"),
            "{warnings:?}"
        );
    }

    #[test]
    fn overrides_are_honoured() {
        let (cfg, warnings) = runtime(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            (
                "LAMBDA_LENS_RUNTIME_API_UPSTREAM",
                "http://127.0.0.1:9100/chain",
            ),
            ("LAMBDA_LENS_EXTENSION_NAME", "lens-x86"),
            ("LAMBDA_LENS_PROXY_PORT", "0"),
            ("LAMBDA_LENS_HANDOFF_FILE", "/tmp/h"),
            ("LAMBDA_LENS_ON_STARTUP_ERROR", "FAIL"),
            ("LAMBDA_LENS_RUNTIME_DONE_WAIT_MS", "0"),
            ("LAMBDA_LENS_DISABLED", "TRUE"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "lambda-managed-instances"),
        ])
        .expect("valid overrides");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(cfg.upstream.to_string(), "http://127.0.0.1:9100/chain");
        assert_eq!(cfg.runtime_api.to_string(), "http://127.0.0.1:9001");
        assert_eq!(cfg.extension_name, "lens-x86");
        assert_eq!(cfg.proxy_port, 0);
        assert_eq!(cfg.handoff_file, PathBuf::from("/tmp/h"));
        assert_eq!(cfg.on_startup_error, StartupErrorPolicy::Fail);
        assert_eq!(cfg.runtime_done_wait, Duration::ZERO);
        assert!(cfg.disabled);
        assert_eq!(
            cfg.initialization_type.as_deref(),
            Some("lambda-managed-instances")
        );
    }
}
