//! What the metrics and log records carry and when metrics go out: the aggregation temporality
//! (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`), the metric export interval
//! (`OTEL_METRIC_EXPORT_INTERVAL`) and the log records' bounds (`LAMBDA_LENS_LOG_*`). Whether a
//! signal is exported at all (`OTEL_LOGS_EXPORTER`, `OTEL_METRICS_EXPORTER`) is the export
//! settings'.

use std::time::Duration;

use super::parse::{Bounds, Env};
use super::variable::{Fallback, Variable};
use super::SettingsGroup;
use crate::correlate::LogBounds;
use crate::metrics::Temporality;

/// Default for [`SignalSettings::metric_interval`]: the specification's 60 s. A collection costs a
/// few microseconds and one more request in a flush; taking one per invocation would add that to
/// every invocation of a busy function for no gain in resolution a dashboard shows.
pub const DEFAULT_METRIC_INTERVAL: Duration = Duration::from_secs(60);
/// Default for [`LogBounds::records_per_invocation`]: well above what a handler usually prints,
/// and with the export queue's bound, a few MiB at most.
pub const DEFAULT_LOG_RECORDS_PER_INVOCATION: u32 = 256;
/// Upper bound for `LAMBDA_LENS_LOG_RECORDS_PER_INVOCATION`.
pub const MAX_LOG_RECORDS_PER_INVOCATION: u32 = 100_000;
/// Default for [`LogBounds::line_chars`].
pub const DEFAULT_LOG_LINE_CHARS: usize = 4096;
/// Upper bound for `LAMBDA_LENS_LOG_LINE_CHARS`: the Telemetry API's own line limit (256 KiB).
pub const MAX_LOG_LINE_CHARS: usize = 262_144;

pub(super) const TEMPORALITY: Variable = Variable::user(
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
    Fallback::Value("delta"),
);
pub(super) const METRIC_INTERVAL: Variable =
    Variable::user("OTEL_METRIC_EXPORT_INTERVAL", Fallback::Value("60000"));
pub(super) const LOG_RECORDS_PER_INVOCATION: Variable = Variable::user(
    "LAMBDA_LENS_LOG_RECORDS_PER_INVOCATION",
    Fallback::Value("256"),
);
pub(super) const LOG_LINE_CHARS: Variable =
    Variable::user("LAMBDA_LENS_LOG_LINE_CHARS", Fallback::Value("4096"));
pub(super) const EXTENSION_LOGS: Variable =
    Variable::user("LAMBDA_LENS_EXTENSION_LOGS", Fallback::Value("false"));

/// The variables of this group.
pub(super) const VARIABLES: &[Variable] = &[
    TEMPORALITY,
    METRIC_INTERVAL,
    LOG_RECORDS_PER_INVOCATION,
    LOG_LINE_CHARS,
    EXTENSION_LOGS,
];

/// Metrics' temporality and cadence, log records' bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalSettings {
    /// Delta or cumulative.
    pub temporality: Temporality,
    /// Least time between two metric collections (SHUTDOWN always takes one).
    pub metric_interval: Duration,
    /// How many log lines are exported and how long each may be.
    pub logs: LogBounds,
}

impl Default for SignalSettings {
    fn default() -> Self {
        Self {
            temporality: Temporality::Delta,
            metric_interval: DEFAULT_METRIC_INTERVAL,
            logs: LogBounds {
                records_per_invocation: DEFAULT_LOG_RECORDS_PER_INVOCATION,
                line_chars: DEFAULT_LOG_LINE_CHARS,
                extension_logs: false,
            },
        }
    }
}

impl SettingsGroup for SignalSettings {
    fn read(env: &mut Env<'_>) -> Self {
        let defaults = Self::default();
        Self {
            temporality: env.parse(
                &TEMPORALITY,
                defaults.temporality,
                "expected delta, cumulative or lowmemory",
                Temporality::parse,
            ),
            metric_interval: env.millis(
                &METRIC_INTERVAL,
                defaults.metric_interval,
                Bounds::at_least(0),
            ),
            logs: LogBounds {
                records_per_invocation: env.integer(
                    &LOG_RECORDS_PER_INVOCATION,
                    defaults.logs.records_per_invocation,
                    "a record count",
                    Bounds::between(0, MAX_LOG_RECORDS_PER_INVOCATION),
                ),
                line_chars: env.integer(
                    &LOG_LINE_CHARS,
                    defaults.logs.line_chars,
                    "a character count",
                    Bounds::between(1, MAX_LOG_LINE_CHARS),
                ),
                extension_logs: env.flag(&EXTENSION_LOGS, false),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::fixed;
    use super::*;

    fn signals(vars: &[(&str, &str)]) -> (SignalSettings, Vec<String>) {
        let (settings, warnings) = SignalSettings::from_lookup(fixed(vars));
        (settings, warnings.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn defaults_are_delta_every_minute_and_function_lines_only() {
        let (settings, warnings) = signals(&[]);
        assert!(warnings.is_empty());
        assert_eq!(settings, SignalSettings::default());
        assert_eq!(settings.temporality, Temporality::Delta);
        assert_eq!(settings.metric_interval, Duration::from_secs(60));
        assert_eq!(settings.logs.records_per_invocation, 256);
        assert_eq!(settings.logs.line_chars, 4096);
        assert!(!settings.logs.extension_logs);
    }

    #[test]
    fn overrides_and_bad_values() {
        let (settings, warnings) = signals(&[
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "Cumulative",
            ),
            ("OTEL_METRIC_EXPORT_INTERVAL", "0"),
            ("LAMBDA_LENS_LOG_RECORDS_PER_INVOCATION", "3"),
            ("LAMBDA_LENS_LOG_LINE_CHARS", "0"),
            ("LAMBDA_LENS_EXTENSION_LOGS", "true"),
        ]);
        assert_eq!(settings.temporality, Temporality::Cumulative);
        assert_eq!(settings.metric_interval, Duration::ZERO);
        assert_eq!(settings.logs.records_per_invocation, 3);
        assert_eq!(settings.logs.line_chars, DEFAULT_LOG_LINE_CHARS);
        assert!(settings.logs.extension_logs);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let (settings, warnings) = signals(&[(
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "sometimes",
        )]);
        assert_eq!(settings.temporality, Temporality::Delta);
        assert_eq!(warnings.len(), 1);
    }
}
