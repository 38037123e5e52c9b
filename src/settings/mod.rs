//! Settings: every environment variable lambda-lens reads, read in one place at start-up into typed
//! settings that are handed to the stages using them.
//!
//! Reading is pure ([`Settings::from_lookup`]); [`Settings::from_env`] is the one function that
//! consults the process environment. Empty values count as unset (the OpenTelemetry rule). A bad
//! value never stops the extension: it yields one [`SettingWarning`] naming the variable, and the
//! default applies. Only a missing or unusable `AWS_LAMBDA_RUNTIME_API` is a [`SettingsError`],
//! because without it lambda-lens cannot even register.
//!
//! Every read goes through a [`Variable`]; [`variables`] lists them all, and a test checks the
//! README's configuration tables against that list.
//!
//! | group | type | file |
//! |---|---|---|
//! | own logs (`LAMBDA_LENS_LOG`) | [`LogSettings`] | `logging.rs` |
//! | Runtime API, ports, hand-off file, start-up | [`RuntimeSettings`] | `runtime.rs`, `endpoint.rs` |
//! | captured bodies | [`BodySettings`] | `bodies.rs` |
//! | redaction | [`RedactionSettings`] | `redaction.rs` |
//! | transforms | [`TransformSettings`] | `transforms.rs` |
//! | export, its OTLP and X-Ray destinations | [`ExportSettings`] | `export.rs`, `otlp.rs`, `xray.rs` |
//! | head sampling | [`Sampler`] | `sampling.rs` |
//! | metrics' temporality and interval, log records' bounds | [`SignalSettings`] | `signals.rs` |
//! | context propagation | [`Propagators`] | `propagation.rs` |
//! | the function's identity and resource attributes | [`FunctionSettings`] | `function.rs` |
//!
//! `parse.rs` holds the reader and the parsers every group shares, `variable.rs` the table's row.

mod bodies;
mod endpoint;
mod export;
mod function;
mod logging;
mod otlp;
mod parse;
mod propagation;
mod redaction;
mod runtime;
mod sampling;
mod signals;
mod transforms;
mod variable;
mod xray;

pub use self::bodies::{BodySettings, DEFAULT_CAPTURE_BYTES, MAX_CAPTURE_BYTES};
pub use self::endpoint::{EndpointError, RuntimeApiEndpoint};
pub use self::export::{
    Destination, ExportSettings, ExportTarget, DEFAULT_FLUSH_TIMEOUT, DEFAULT_QUEUE_CAPACITY,
};
pub use self::function::{FunctionSettings, ResourceAttributes};
pub use self::logging::LogSettings;
pub use self::otlp::{OtlpSettings, Signal, Transport};
pub(crate) use self::parse::percent_decode;
pub use self::parse::{Env, SettingWarning};
pub use self::redaction::RedactionSettings;
pub use self::runtime::{
    is_managed_instances, RuntimeSettings, SettingsError, StartupErrorPolicy,
    DEFAULT_EXTENSION_NAME, DEFAULT_HANDOFF_FILE, DEFAULT_PROXY_PORT, DEFAULT_TELEMETRY_PORT,
    MANAGED_INSTANCES, MAX_RUNTIME_DONE_WAIT_MS,
};
pub use self::signals::{
    SignalSettings, DEFAULT_LOG_LINE_CHARS, DEFAULT_LOG_RECORDS_PER_INVOCATION,
    DEFAULT_METRIC_INTERVAL, MAX_LOG_LINE_CHARS, MAX_LOG_RECORDS_PER_INVOCATION,
};
pub use self::transforms::TransformSettings;
pub use self::variable::{Fallback, Origin, Variable};
pub use self::xray::{Credentials, XraySettings};
use crate::trace_context::{Propagators, Sampler};

/// The variables of every group.
static GROUPS: [&[Variable]; 12] = [
    logging::VARIABLES,
    runtime::VARIABLES,
    bodies::VARIABLES,
    redaction::VARIABLES,
    transforms::VARIABLES,
    export::VARIABLES,
    otlp::VARIABLES,
    xray::VARIABLES,
    sampling::VARIABLES,
    signals::VARIABLES,
    propagation::VARIABLES,
    function::VARIABLES,
];

/// Every environment variable lambda-lens reads.
pub fn variables() -> impl Iterator<Item = &'static Variable> {
    GROUPS.iter().flat_map(|group| group.iter())
}

/// A group of settings read together. Each can be read alone (tests, benchmarks) with
/// [`SettingsGroup::from_lookup`].
pub trait SettingsGroup: Sized {
    /// Reads the group, collecting warnings in `env`.
    fn read(env: &mut Env<'_>) -> Self;

    /// Reads the group through `lookup` (empty values count as unset). Pure.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Self, Vec<SettingWarning>) {
        let mut env = Env::new(&lookup);
        let group = Self::read(&mut env);
        (group, env.into_warnings())
    }
}

/// Everything lambda-lens reads from its environment, but its own log filter.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where lambda-lens sits and how it starts.
    pub runtime: RuntimeSettings,
    /// What is kept of bodies.
    pub bodies: BodySettings,
    /// What is redacted.
    pub redaction: RedactionSettings,
    /// Which transforms are on.
    pub transforms: TransformSettings,
    /// How and where spans are exported.
    pub export: ExportSettings,
    /// Which invocations are recorded.
    pub sampler: Sampler,
    /// Metrics' temporality and interval, log records' bounds.
    pub signals: SignalSettings,
    /// Where the invocation's parent is read from.
    pub propagators: Propagators,
    /// The function's identity.
    pub function: FunctionSettings,
}

/// What [`Settings::from_lookup`] found.
#[derive(Debug)]
pub struct Loaded {
    /// The log filter: always usable, so that even a fatal error can be logged.
    pub logging: LogSettings,
    /// The settings, or why lambda-lens cannot run.
    pub settings: Result<Settings, SettingsError>,
    /// Values ignored in favour of their defaults, in the order they were read (only the log
    /// filter's when the settings are an error).
    pub warnings: Vec<SettingWarning>,
}

impl Settings {
    /// Reads the settings from the process environment; a value that is not valid Unicode counts
    /// as unset.
    pub fn from_env() -> Loaded {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`. Pure.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Loaded {
        let mut env = Env::new(&lookup);
        let logging = LogSettings::read(&mut env);
        let settings = RuntimeSettings::read(&mut env).map(|runtime| Self {
            runtime,
            bodies: BodySettings::read(&mut env),
            redaction: RedactionSettings::read(&mut env),
            transforms: TransformSettings::read(&mut env),
            export: ExportSettings::read(&mut env),
            sampler: Sampler::read(&mut env),
            signals: SignalSettings::read(&mut env),
            propagators: Propagators::read(&mut env),
            function: FunctionSettings::read(&mut env),
        });
        Loaded {
            logging,
            settings,
            warnings: env.into_warnings(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    use super::parse::fixed;
    use super::*;

    const RUNTIME_API: (&str, &str) = ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");

    /// Reads the settings from `vars`, returning them and every variable name that was looked up.
    fn read(vars: &[(&str, &str)]) -> (Loaded, BTreeSet<String>) {
        let lookup = fixed(vars);
        let asked = RefCell::new(BTreeSet::new());
        let loaded = Settings::from_lookup(|name| {
            asked.borrow_mut().insert(name.to_owned());
            lookup(name)
        });
        (loaded, asked.into_inner())
    }

    #[test]
    fn the_table_lists_every_variable_read_and_nothing_else() {
        let table: BTreeSet<String> = variables().map(|v| v.name.to_owned()).collect();
        assert_eq!(
            table.len(),
            variables().count(),
            "a variable is listed twice"
        );
        // Between them, these environments take every branch that reads a variable.
        let (_, mut asked) = read(&[RUNTIME_API]);
        let (_, asked_xray) = read(&[
            RUNTIME_API,
            ("LAMBDA_LENS_EXPORT_TARGET", "xray"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ]);
        asked.extend(asked_xray);
        assert_eq!(asked, table);
    }

    #[test]
    fn default_values_mean_the_same_as_unset() {
        let defaults: Vec<(&str, &str)> = variables()
            .filter_map(|v| match v.fallback {
                Fallback::Value(value) => Some((v.name, value)),
                Fallback::None | Fallback::Described(_) => None,
            })
            .chain([RUNTIME_API])
            .collect();
        let (explicit, _) = read(&defaults);
        let (unset, _) = read(&[RUNTIME_API]);
        assert!(explicit.warnings.is_empty(), "{:?}", explicit.warnings);
        assert_eq!(explicit.logging, unset.logging);
        assert_eq!(
            format!("{:?}", explicit.settings),
            format!("{:?}", unset.settings)
        );
    }

    #[test]
    fn platform_variables_have_no_documented_default() {
        for variable in variables().filter(|v| v.origin == Origin::Platform) {
            assert!(variable.name.starts_with("AWS_"), "{}", variable.name);
            assert_eq!(variable.fallback, Fallback::None, "{}", variable.name);
        }
        for variable in variables().filter(|v| v.origin == Origin::User) {
            assert!(
                variable.name.starts_with("LAMBDA_LENS_") || variable.name.starts_with("OTEL_"),
                "{}",
                variable.name
            );
        }
    }

    #[test]
    fn without_a_runtime_api_only_the_log_filter_is_read() {
        let (loaded, asked) = read(&[
            ("LAMBDA_LENS_LOG", "lambda_lens=loud"),
            ("LAMBDA_LENS_PROXY_PORT", "70000"),
        ]);
        assert_eq!(
            loaded.settings.err(),
            Some(SettingsError::MissingRuntimeApi)
        );
        assert_eq!(loaded.logging, LogSettings::default());
        let warned: Vec<_> = loaded.warnings.iter().map(|w| w.variable).collect();
        assert_eq!(warned, ["LAMBDA_LENS_LOG"]);
        assert_eq!(
            asked,
            ["AWS_LAMBDA_RUNTIME_API", "LAMBDA_LENS_LOG"]
                .map(str::to_owned)
                .into()
        );
    }

    #[test]
    fn groups_are_read_in_order_and_warnings_kept_in_that_order() {
        let (loaded, _) = read(&[
            RUNTIME_API,
            ("LAMBDA_LENS_LOG", "lambda_lens=loud"),
            ("LAMBDA_LENS_CAPTURE_BYTES", "-1"),
            ("LAMBDA_LENS_PROXY_PORT", "70000"),
            ("OTEL_PROPAGATORS", "b3"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("LAMBDA_LENS_FLUSH_TIMEOUT_MS", "0"),
        ]);
        let warned: Vec<_> = loaded.warnings.iter().map(|w| w.variable).collect();
        assert_eq!(
            warned,
            [
                "LAMBDA_LENS_LOG",
                "LAMBDA_LENS_PROXY_PORT",
                "LAMBDA_LENS_CAPTURE_BYTES",
                "LAMBDA_LENS_FLUSH_TIMEOUT_MS",
                "OTEL_TRACES_SAMPLER",
                "OTEL_PROPAGATORS"
            ]
        );
        let settings = loaded.settings.expect("the runtime API is set");
        assert_eq!(settings.runtime.proxy_port, DEFAULT_PROXY_PORT);
        assert_eq!(settings.bodies.capture_bytes, DEFAULT_CAPTURE_BYTES);
        assert_eq!(settings.export.flush_timeout, DEFAULT_FLUSH_TIMEOUT);
        assert_eq!(settings.sampler, Sampler::AlwaysOn);
        assert_eq!(settings.propagators, Propagators::default());
    }
}
