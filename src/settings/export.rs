//! Export: whether there is any (`OTEL_SDK_DISABLED`) and which signals go (`OTEL_TRACES_EXPORTER`,
//! `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`), the flush
//! budget and span queue bound (`LAMBDA_LENS_FLUSH_TIMEOUT_MS`, `LAMBDA_LENS_EXPORT_QUEUE_SPANS`),
//! and where each signal goes (`LAMBDA_LENS_EXPORT_TARGET`: an OTLP collector, see
//! [`super::otlp`], or AWS's own endpoints, see [`super::xray`]). With export disabled, the
//! destination is not read at all.
//!
//! `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER` and `OTEL_LOGS_EXPORTER` each turn their own
//! signal off with `none`; with all three off (or `OTEL_SDK_DISABLED=true`) nothing is exported.
//! Log records keep their invocation's trace and span ids when spans are not exported.

use std::time::Duration;

use super::otlp::{OtlpSettings, Signal};
use super::parse::{comma_list, one_of, Bounds, Env};
use super::variable::{Fallback, Variable};
use super::xray::XraySettings;
use super::SettingsGroup;

/// Default for [`ExportSettings::flush_timeout`].
///
/// The flush runs after the function has responded but before the extension asks for the next
/// event, so it delays the invocation's end (and is billed) and holds back the next invocation.
/// A collector in the same region answers in a few to a few tens of milliseconds, and a fresh TLS
/// connection adds one or two round trips; 500 ms covers that with room to spare while bounding
/// the damage when the collector is slow or unreachable (those spans are then retried later).
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_millis(500);
/// Default for [`ExportSettings::queue_capacity`]: about a minute of a busy function's spans at
/// a few KiB each, a few MiB of memory at most.
pub const DEFAULT_QUEUE_CAPACITY: usize = 2048;
/// The largest [`ExportSettings::queue_capacity`] accepted: eight times the default, so that even
/// spans carrying two whole captured bodies keep the queue within a small function's memory (a
/// larger value gets one warning and the default).
pub const MAX_QUEUE_CAPACITY: usize = 16_384;

const SDK_DISABLED: Variable = Variable::user("OTEL_SDK_DISABLED", Fallback::Value("false"));
const TRACES_EXPORTER: Variable = Variable::user("OTEL_TRACES_EXPORTER", Fallback::Value("otlp"));
const METRICS_EXPORTER: Variable = Variable::user("OTEL_METRICS_EXPORTER", Fallback::Value("otlp"));
const LOGS_EXPORTER: Variable = Variable::user("OTEL_LOGS_EXPORTER", Fallback::Value("otlp"));
const FLUSH_TIMEOUT_MS: Variable =
    Variable::user("LAMBDA_LENS_FLUSH_TIMEOUT_MS", Fallback::Value("500"));
const EXPORT_QUEUE_SPANS: Variable =
    Variable::user("LAMBDA_LENS_EXPORT_QUEUE_SPANS", Fallback::Value("2048"));
const EXPORT_TARGET: Variable =
    Variable::user("LAMBDA_LENS_EXPORT_TARGET", Fallback::Value("otlp"));

/// The variables of this group (the destination's are in `otlp` and `xray`).
pub(super) const VARIABLES: &[Variable] = &[
    SDK_DISABLED,
    TRACES_EXPORTER,
    METRICS_EXPORTER,
    LOGS_EXPORTER,
    FLUSH_TIMEOUT_MS,
    EXPORT_QUEUE_SPANS,
    EXPORT_TARGET,
];

/// Where spans go (`LAMBDA_LENS_EXPORT_TARGET`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExportTarget {
    /// Any OTLP collector, configured by the standard `OTEL_EXPORTER_OTLP_*` variables
    /// (`otlp`, the default).
    #[default]
    Otlp,
    /// AWS X-Ray's OTLP endpoint, SigV4-signed, within X-Ray's request and span limits (`xray`).
    /// The Lambda X-Ray context then stays the invocation's parent whatever `OTEL_PROPAGATORS`
    /// says, so that X-Ray's service map joins (see [`crate::trace_context::ParentChoice`]).
    Xray,
}

/// Whether, how and where spans, metrics and log records are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSettings {
    /// `OTEL_SDK_DISABLED=true`, or `none` for every signal: build no exporter.
    pub disabled: bool,
    /// `LAMBDA_LENS_FLUSH_TIMEOUT_MS`: the most one flush may take (see
    /// [`DEFAULT_FLUSH_TIMEOUT`] for why 500 ms).
    pub flush_timeout: Duration,
    /// `LAMBDA_LENS_EXPORT_QUEUE_SPANS`: how many spans may wait for export.
    pub queue_capacity: usize,
    /// Where each signal goes; not read when export is disabled.
    pub destination: Destination,
}

/// Where each signal goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `LAMBDA_LENS_EXPORT_TARGET`.
    pub target: ExportTarget,
    /// Whether spans are exported (not with `OTEL_TRACES_EXPORTER=none`).
    pub traces: bool,
    /// Spans: the OTLP protocol, endpoint, headers, compression, timeout and CA file (export to
    /// AWS uses all but the protocol and the endpoint); the defaults, unread, when spans are not
    /// exported.
    pub otlp: OtlpSettings,
    /// Metrics, the same; `None` with `OTEL_METRICS_EXPORTER=none`.
    pub metrics: Option<OtlpSettings>,
    /// Log records, the same; `None` with `OTEL_LOGS_EXPORTER=none`.
    pub logs: Option<OtlpSettings>,
    /// AWS's endpoints, log group, region and credentials; empty unless the target is X-Ray.
    pub xray: XraySettings,
}

impl Default for Destination {
    /// What an empty environment means: every signal to the default OTLP collector.
    fn default() -> Self {
        Self {
            target: ExportTarget::Otlp,
            traces: true,
            otlp: OtlpSettings::default_for(Signal::Traces),
            metrics: Some(OtlpSettings::default_for(Signal::Metrics)),
            logs: Some(OtlpSettings::default_for(Signal::Logs)),
            xray: XraySettings::default(),
        }
    }
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            disabled: false,
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            destination: Destination::default(),
        }
    }
}

/// Which signals are exported (`OTEL_{TRACES,METRICS,LOGS}_EXPORTER`).
#[derive(Debug, Clone, Copy)]
struct Exported {
    traces: bool,
    metrics: bool,
    logs: bool,
}

impl Exported {
    /// Nothing: the SDK is disabled, and the exporter variables are not read.
    const NONE: Self = Self {
        traces: false,
        metrics: false,
        logs: false,
    };

    fn read(env: &mut Env<'_>) -> Self {
        Self {
            traces: signal_exporter(env, &TRACES_EXPORTER),
            metrics: signal_exporter(env, &METRICS_EXPORTER),
            logs: signal_exporter(env, &LOGS_EXPORTER),
        }
    }

    fn any(self) -> bool {
        self.traces || self.metrics || self.logs
    }
}

impl SettingsGroup for ExportSettings {
    fn read(env: &mut Env<'_>) -> Self {
        let sdk_disabled = env.flag(&SDK_DISABLED, false);
        let exported = if sdk_disabled {
            Exported::NONE
        } else {
            Exported::read(env)
        };
        let disabled = !exported.any();
        Self {
            disabled,
            flush_timeout: env.millis(
                &FLUSH_TIMEOUT_MS,
                DEFAULT_FLUSH_TIMEOUT,
                Bounds::at_least(1),
            ),
            queue_capacity: env.integer(
                &EXPORT_QUEUE_SPANS,
                DEFAULT_QUEUE_CAPACITY,
                "a span count",
                Bounds::between(1, MAX_QUEUE_CAPACITY),
            ),
            // Bad destination values are not worth a warning when nothing is exported.
            destination: if disabled {
                Destination::default()
            } else {
                Destination::read_exported(env, exported)
            },
        }
    }
}

impl SettingsGroup for Destination {
    fn read(env: &mut Env<'_>) -> Self {
        let exported = Exported::read(env);
        Self::read_exported(env, exported)
    }
}

impl Destination {
    /// The destination of the `exported` signals.
    fn read_exported(env: &mut Env<'_>, exported: Exported) -> Self {
        // The spans' variables are not read (nor warned about) when spans are not exported.
        let otlp = if exported.traces {
            OtlpSettings::read(env)
        } else {
            OtlpSettings::default_for(Signal::Traces)
        };
        let metrics = exported
            .metrics
            .then(|| OtlpSettings::read_signal(env, Signal::Metrics));
        let logs = exported
            .logs
            .then(|| OtlpSettings::read_signal(env, Signal::Logs));
        let target = env.parse(
            &EXPORT_TARGET,
            ExportTarget::Otlp,
            "expected otlp or xray",
            |raw| {
                one_of(
                    raw,
                    &[("otlp", ExportTarget::Otlp), ("xray", ExportTarget::Xray)],
                )
            },
        );
        let xray = match target {
            ExportTarget::Otlp => XraySettings::default(),
            ExportTarget::Xray => {
                let traces = exported.traces.then_some(&otlp);
                let exported: Vec<&OtlpSettings> = [traces, metrics.as_ref(), logs.as_ref()]
                    .into_iter()
                    .flatten()
                    .collect();
                XraySettings::read(env, &exported)
            }
        };
        Self {
            target,
            traces: exported.traces,
            otlp,
            metrics,
            logs,
            xray,
        }
    }
}

/// Whether `variable` (`OTEL_TRACES_EXPORTER` and its twins) leaves its signal on: `otlp`
/// (the default) does, `none` does not; anything else is warned about and taken as `otlp`.
fn signal_exporter(env: &mut Env<'_>, variable: &Variable) -> bool {
    let Some(value) = env.get(variable) else {
        return true;
    };
    let exporters: Vec<String> = comma_list(&value).map(str::to_ascii_lowercase).collect();
    if exporters.iter().all(|name| name == "none") {
        return false;
    }
    if !exporters.iter().any(|name| name == "otlp") {
        env.warn(
            variable,
            &value,
            "only otlp (or none) is supported; exporting with OTLP",
        );
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::parse::fixed;
    use super::*;
    use crate::settings::{Credentials, SettingWarning, Transport};

    fn export(vars: &[(&str, &str)]) -> (ExportSettings, Vec<SettingWarning>) {
        ExportSettings::from_lookup(fixed(vars))
    }

    const KEYS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];

    #[test]
    fn target_values() {
        let (settings, warnings) = export(&[]);
        assert_eq!(settings.destination.target, ExportTarget::Otlp);
        assert!(warnings.is_empty(), "{warnings:?}");
        let (settings, warnings) = export(&[("LAMBDA_LENS_EXPORT_TARGET", " XRay ")]);
        assert_eq!(settings.destination.target, ExportTarget::Xray);
        assert!(warnings.is_empty(), "{warnings:?}");
        let (settings, warnings) = export(&[("LAMBDA_LENS_EXPORT_TARGET", "jaeger")]);
        assert_eq!(settings.destination.target, ExportTarget::Otlp);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn xray_reads_region_and_credentials() {
        let (settings, warnings) = export(&[
            KEYS[0],
            KEYS[1],
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_REGION", " eu-central-1 "),
            ("LAMBDA_LENS_EXPORT_TARGET", "xray"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            settings.destination.xray,
            XraySettings {
                region: Some("eu-central-1".to_owned()),
                credentials: Some(Credentials {
                    access_key_id: "AKID".to_owned(),
                    secret_access_key: "secret".to_owned(),
                    session_token: Some("token".to_owned()),
                }),
                ..XraySettings::default()
            }
        );
        let (settings, _) = export(&[KEYS[0], ("LAMBDA_LENS_EXPORT_TARGET", "xray")]);
        assert_eq!(
            settings.destination.xray.credentials, None,
            "the secret is missing"
        );
        let (settings, _) = export(&[KEYS[0], KEYS[1], ("AWS_REGION", "us-east-1")]);
        assert_eq!(
            settings.destination.xray,
            XraySettings::default(),
            "not read for OTLP export"
        );
    }

    #[test]
    fn xray_warns_about_the_otlp_settings_it_overrides() {
        let (settings, warnings) = export(&[
            ("LAMBDA_LENS_EXPORT_TARGET", "xray"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ]);
        let vars: Vec<_> = warnings.iter().map(|w| w.variable).collect();
        assert_eq!(
            vars,
            [
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
            ]
        );
        assert_eq!(settings.destination.otlp.transport, Transport::Grpc);
    }

    #[test]
    fn disabled_export_reads_no_destination() {
        let (settings, warnings) = export(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
            ("LAMBDA_LENS_EXPORT_TARGET", "xray"),
        ]);
        assert!(settings.disabled);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings.destination.target, ExportTarget::Otlp);

        // Nor the exporter variables: nothing they say matters then.
        let (settings, warnings) = export(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
        ]);
        assert!(settings.disabled);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn unexported_spans_read_none_of_their_variables() {
        let (settings, warnings) = export(&[
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(!settings.disabled && !settings.destination.traces);
        assert_eq!(
            settings.destination.otlp,
            OtlpSettings::default_for(Signal::Traces)
        );
        let metrics = settings.destination.metrics.expect("metrics exported");
        assert_eq!(metrics.endpoint, "http://collector:4318/v1/metrics");
    }
}
