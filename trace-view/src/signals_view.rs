//! The demo's view of metrics and logs: a table with one row per metric series (delta points
//! summed over the exports, cumulative ones at their latest), then one line per log record with
//! its trace id prefix and severity.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::signals::{MetricKind, ReceivedLog, ReceivedMetric};

/// Hex digits of the trace id shown before a log line.
const TRACE_PREFIX_DIGITS: usize = 8;
/// Characters of a log body shown.
const MAX_BODY_CHARS: usize = 120;

/// A series' running total: a sum's value, or a histogram's count and sum.
#[derive(Debug, Default, Clone, Copy)]
struct Total {
    value: f64,
    count: u64,
}

/// The metrics table and the log lines, as text (empty when there is neither).
pub fn render_signals(metrics: &[ReceivedMetric], logs: &[ReceivedLog]) -> String {
    let mut out = String::new();
    let mut series: BTreeMap<(String, String), (MetricKind, String, Total)> = BTreeMap::new();
    for metric in metrics {
        for point in &metric.points {
            let key = (metric.name.clone(), attributes_text(&point.attributes));
            let entry =
                series
                    .entry(key)
                    .or_insert((metric.kind, metric.unit.clone(), Total::default()));
            let total = &mut entry.2;
            if metric.delta {
                total.value += point.value;
                total.count += point.count;
            } else {
                *total = Total {
                    value: point.value,
                    count: point.count,
                };
            }
        }
    }
    if !series.is_empty() {
        let _ = writeln!(out, "metrics");
        for ((name, attributes), (kind, unit, total)) in &series {
            let figure = match kind {
                MetricKind::Histogram => {
                    format!("count {} sum {} {unit}", total.count, number(total.value))
                }
                _ => format!("{} {unit}", number(total.value)),
            };
            let _ = writeln!(out, "  {name:<32} {figure:<36} {attributes}");
        }
    }
    if !logs.is_empty() {
        let _ = writeln!(out, "logs");
        for log in logs {
            let trace = if log.trace_id.is_empty() {
                "-".repeat(TRACE_PREFIX_DIGITS)
            } else {
                log.trace_id.chars().take(TRACE_PREFIX_DIGITS).collect()
            };
            let severity = if log.severity_text.is_empty() {
                "-"
            } else {
                &log.severity_text
            };
            let body: String = log
                .body
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(MAX_BODY_CHARS)
                .collect();
            let _ = writeln!(out, "  {trace} {severity:<5} {body}");
        }
    }
    out
}

fn attributes_text(attributes: &BTreeMap<String, Value>) -> String {
    attributes
        .iter()
        .map(|(key, value)| match value {
            Value::String(text) => format!("{key}={text}"),
            other => format!("{key}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A figure without trailing zeros, at most three decimals.
fn number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::ReceivedPoint;

    fn point(attributes: &[(&str, &str)], value: f64, count: u64) -> ReceivedPoint {
        ReceivedPoint {
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                .collect(),
            start_unix_nanos: 0,
            time_unix_nanos: 0,
            value,
            count,
            bucket_counts: Vec::new(),
            explicit_bounds: Vec::new(),
        }
    }

    fn metric(
        name: &str,
        kind: MetricKind,
        delta: bool,
        points: Vec<ReceivedPoint>,
    ) -> ReceivedMetric {
        ReceivedMetric {
            resource: BTreeMap::new(),
            name: name.to_owned(),
            unit: if kind == MetricKind::Histogram {
                "s"
            } else {
                "{invocation}"
            }
            .to_owned(),
            kind,
            delta,
            monotonic: kind == MetricKind::Sum,
            points,
        }
    }

    #[test]
    fn delta_points_add_up_and_cumulative_ones_keep_the_latest() {
        let trigger = [("faas.trigger", "other")];
        let metrics = [
            metric(
                "faas.invocations",
                MetricKind::Sum,
                true,
                vec![point(&trigger, 1.0, 0)],
            ),
            metric(
                "faas.invocations",
                MetricKind::Sum,
                true,
                vec![point(&trigger, 2.0, 0)],
            ),
            metric(
                "faas.errors",
                MetricKind::Sum,
                false,
                vec![point(&trigger, 1.0, 0)],
            ),
            metric(
                "faas.errors",
                MetricKind::Sum,
                false,
                vec![point(&trigger, 4.0, 0)],
            ),
            metric(
                "faas.invoke_duration",
                MetricKind::Histogram,
                true,
                vec![point(&trigger, 0.25, 2)],
            ),
        ];
        let logs = [ReceivedLog {
            resource: BTreeMap::new(),
            scope_name: String::new(),
            time_unix_nanos: 0,
            observed_unix_nanos: 0,
            severity_number: 17,
            severity_text: "ERROR".into(),
            body: "[ERROR]\tboom".into(),
            trace_id: "6b15e947c29b5aed845e83132137ceb7".into(),
            span_id: "53995c3f42cd8ad8".into(),
            flags: 1,
            attributes: BTreeMap::new(),
        }];
        let text = render_signals(&metrics, &logs);
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        assert_eq!(
            lines,
            [
                "metrics",
                "  faas.errors                      4 {invocation}                       faas.trigger=other",
                "  faas.invocations                 3 {invocation}                       faas.trigger=other",
                "  faas.invoke_duration             count 2 sum 0.25 s                   faas.trigger=other",
                "logs",
                "  6b15e947 ERROR [ERROR] boom",
            ]
        );
        assert_eq!(render_signals(&[], &[]), "");
    }
}
