//! The owner task's metrics and log records: what a closed invocation, a log line and a report add
//! to them, and the metric collection a flush takes once the export interval has passed (always
//! at SHUTDOWN), with the drops counted since the previous one.

use std::time::SystemTime;

use opentelemetry_proto::tonic::metrics::v1::Metric;

use crate::correlate::{Correlator, InvocationSummary, JoinedLog, JoinedReport};
use crate::export::{DroppedCounts, Exporter, LogEntry};
use crate::logs;
use crate::metrics::{DropReason, Metrics, Signal};
use crate::redact::RedactionRules;
use crate::settings::SignalSettings;

/// Metrics and log records, per what the exporter sends.
pub(super) struct Signals {
    /// `None` when metrics are not exported.
    metrics: Option<Metrics>,
    /// Whether log records are exported.
    logs: bool,
    line_chars: usize,
    /// The exporter's drop counts at the last collection, so each counts once.
    dropped_seen: DroppedCounts,
}

impl Signals {
    /// Signals for `exporter` (none without one), starting at `now`.
    pub(super) fn new(
        settings: &SignalSettings,
        exporter: Option<&Exporter>,
        now: SystemTime,
    ) -> Self {
        let metrics = exporter
            .filter(|e| e.metrics_enabled())
            .map(|_| Metrics::new(settings.temporality, settings.metric_interval, now));
        Self {
            metrics,
            logs: exporter.is_some_and(Exporter::logs_enabled),
            line_chars: settings.logs.line_chars,
            dropped_seen: DroppedCounts::default(),
        }
    }

    /// Counts a closed invocation.
    pub(super) fn invocation(&mut self, inv: &InvocationSummary) {
        if let Some(metrics) = &mut self.metrics {
            metrics.invocation(inv);
        }
    }

    /// `joined` as a log record, redacted with `rules`, if logs are exported.
    pub(super) fn line(
        &self,
        joined: JoinedLog,
        sampled: bool,
        rules: &RedactionRules,
        now: SystemTime,
    ) -> Option<LogEntry> {
        self.logs
            .then(|| logs::line_record(joined, rules, self.line_chars, sampled, now))
    }

    /// Counts a report's figures; its log record, if logs are exported.
    pub(super) fn report(
        &mut self,
        joined: &JoinedReport,
        sampled: bool,
        now: SystemTime,
    ) -> Option<LogEntry> {
        if let Some(metrics) = &mut self.metrics {
            metrics.report(joined);
        }
        self.logs.then(|| logs::report_record(joined, sampled, now))
    }

    /// The metrics to send at `now`: when the interval has passed, or always when `last` (the
    /// environment is shutting down); the lines `correlator` dropped and the exporter's drops
    /// since the previous collection are counted first.
    pub(super) fn collect(
        &mut self,
        exporter: &Exporter,
        correlator: &mut Correlator,
        now: SystemTime,
        last: bool,
    ) -> Vec<Metric> {
        let Some(metrics) = &mut self.metrics else {
            return Vec::new();
        };
        if !last && !metrics.due(now) {
            return Vec::new();
        }
        let lines = correlator.take_dropped_logs();
        let dropped = exporter.dropped();
        let seen = std::mem::replace(&mut self.dropped_seen, dropped);
        let counts = [
            (Signal::Logs, DropReason::Limit, lines.over_limit),
            (Signal::Logs, DropReason::Platform, lines.by_platform),
            (
                Signal::Traces,
                DropReason::Queue,
                dropped.spans.saturating_sub(seen.spans),
            ),
            (
                Signal::Logs,
                DropReason::Queue,
                dropped.log_records.saturating_sub(seen.log_records),
            ),
            (
                Signal::Metrics,
                DropReason::Queue,
                dropped
                    .metric_collections
                    .saturating_sub(seen.metric_collections),
            ),
        ];
        for (signal, reason, count) in counts {
            metrics.dropped(signal, reason, count);
        }
        metrics.collect(now)
    }
}
