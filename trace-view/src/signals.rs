//! Metrics and log records as received: OTLP export requests of those signals decoded into plain
//! values that tests can assert on exactly and the binary can print.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, AggregationTemporality};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{any_value_to_json, attributes_to_json, hex};

/// One log record, with its resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedLog {
    /// The attributes of the resource that produced it.
    pub resource: BTreeMap<String, Value>,
    /// The instrumentation scope name.
    pub scope_name: String,
    /// When it happened, in nanoseconds since the Unix epoch (0: unknown).
    pub time_unix_nanos: u64,
    /// When the sender observed it.
    pub observed_unix_nanos: u64,
    /// The severity number (0: unspecified).
    pub severity_number: i32,
    /// The severity as the source wrote it.
    pub severity_text: String,
    /// The body (a string body as is, anything else as JSON text).
    pub body: String,
    /// The trace id, 32 lowercase hex digits, or empty.
    pub trace_id: String,
    /// The span id, 16 lowercase hex digits, or empty.
    pub span_id: String,
    /// The trace flags.
    pub flags: u32,
    /// The record's attributes.
    pub attributes: BTreeMap<String, Value>,
}

/// How a metric aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// A sum (monotonic or not).
    Sum,
    /// A gauge.
    Gauge,
    /// An explicit-bucket histogram.
    Histogram,
    /// Anything else (exponential histograms, summaries): kept by name only.
    Other,
}

/// One data point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedPoint {
    /// Its attributes.
    pub attributes: BTreeMap<String, Value>,
    /// Start of its time window, in nanoseconds since the Unix epoch.
    pub start_unix_nanos: u64,
    /// Its time.
    pub time_unix_nanos: u64,
    /// A sum's or gauge's value; a histogram's sum.
    pub value: f64,
    /// A histogram's count (0 otherwise).
    pub count: u64,
    /// A histogram's bucket counts (empty otherwise).
    pub bucket_counts: Vec<u64>,
    /// A histogram's bucket boundaries (empty otherwise).
    pub explicit_bounds: Vec<f64>,
}

/// One metric of one export, with its points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedMetric {
    /// The attributes of the resource that produced it.
    pub resource: BTreeMap<String, Value>,
    /// Its name.
    pub name: String,
    /// Its unit.
    pub unit: String,
    /// Its kind.
    pub kind: MetricKind,
    /// Whether a sum or histogram is delta (false: cumulative, or a gauge).
    pub delta: bool,
    /// Whether a sum is monotonic.
    pub monotonic: bool,
    /// Its data points.
    pub points: Vec<ReceivedPoint>,
}

/// The log records of an export request, in the order they were sent.
pub fn logs_from_request(request: &ExportLogsServiceRequest) -> Vec<ReceivedLog> {
    let mut logs = Vec::new();
    for resource_logs in &request.resource_logs {
        let resource = resource_logs
            .resource
            .as_ref()
            .map(|resource| attributes_to_json(&resource.attributes))
            .unwrap_or_default();
        for scope_logs in &resource_logs.scope_logs {
            let scope_name = scope_logs
                .scope
                .as_ref()
                .map(|scope| scope.name.clone())
                .unwrap_or_default();
            for record in &scope_logs.log_records {
                let body = match any_value_to_json(record.body.as_ref()) {
                    Value::String(text) => text,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                logs.push(ReceivedLog {
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                    time_unix_nanos: record.time_unix_nano,
                    observed_unix_nanos: record.observed_time_unix_nano,
                    severity_number: record.severity_number,
                    severity_text: record.severity_text.clone(),
                    body,
                    trace_id: hex(&record.trace_id),
                    span_id: hex(&record.span_id),
                    flags: record.flags,
                    attributes: attributes_to_json(&record.attributes),
                });
            }
        }
    }
    logs
}

/// The metrics of an export request, in the order they were sent.
pub fn metrics_from_request(request: &ExportMetricsServiceRequest) -> Vec<ReceivedMetric> {
    let delta = AggregationTemporality::Delta as i32;
    let mut metrics = Vec::new();
    for resource_metrics in &request.resource_metrics {
        let resource = resource_metrics
            .resource
            .as_ref()
            .map(|resource| attributes_to_json(&resource.attributes))
            .unwrap_or_default();
        for scope_metrics in &resource_metrics.scope_metrics {
            for metric in &scope_metrics.metrics {
                let (kind, is_delta, monotonic, points) = match &metric.data {
                    Some(metric::Data::Sum(sum)) => (
                        MetricKind::Sum,
                        sum.aggregation_temporality == delta,
                        sum.is_monotonic,
                        sum.data_points.iter().map(number_point).collect(),
                    ),
                    Some(metric::Data::Gauge(gauge)) => (
                        MetricKind::Gauge,
                        false,
                        false,
                        gauge.data_points.iter().map(number_point).collect(),
                    ),
                    Some(metric::Data::Histogram(histogram)) => (
                        MetricKind::Histogram,
                        histogram.aggregation_temporality == delta,
                        false,
                        histogram
                            .data_points
                            .iter()
                            .map(|point| ReceivedPoint {
                                attributes: attributes_to_json(&point.attributes),
                                start_unix_nanos: point.start_time_unix_nano,
                                time_unix_nanos: point.time_unix_nano,
                                value: point.sum.unwrap_or_default(),
                                count: point.count,
                                bucket_counts: point.bucket_counts.clone(),
                                explicit_bounds: point.explicit_bounds.clone(),
                            })
                            .collect(),
                    ),
                    _ => (MetricKind::Other, false, false, Vec::new()),
                };
                metrics.push(ReceivedMetric {
                    resource: resource.clone(),
                    name: metric.name.clone(),
                    unit: metric.unit.clone(),
                    kind,
                    delta: is_delta,
                    monotonic,
                    points,
                });
            }
        }
    }
    metrics
}

fn number_point(point: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint) -> ReceivedPoint {
    let value = match point.value {
        Some(number_data_point::Value::AsInt(value)) => value as f64,
        Some(number_data_point::Value::AsDouble(value)) => value,
        None => 0.0,
    };
    ReceivedPoint {
        attributes: attributes_to_json(&point.attributes),
        start_unix_nanos: point.start_time_unix_nano,
        time_unix_nanos: point.time_unix_nano,
        value,
        count: 0,
        bucket_counts: Vec::new(),
        explicit_bounds: Vec::new(),
    }
}
