//! Metrics and log records reach the receiver over OTLP/HTTP (protobuf and JSON) and OTLP/gRPC,
//! and come out decoded exactly.

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use trace_view::{MetricKind, ReceivedLog, Receiver, ReceiverConfig, ReceiverHandle};

const WAIT: Duration = Duration::from_secs(10);

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![string("service.name", "orders")],
        ..Resource::default()
    })
}

fn logs_request() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 1_700_000_000_005_000_000,
                    observed_time_unix_nano: 1_700_000_000_030_000_000,
                    severity_number: 17,
                    severity_text: "ERROR".into(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("[ERROR]\tboom".into())),
                    }),
                    attributes: vec![string("faas.invocation_id", "req-1")],
                    flags: 1,
                    trace_id: vec![7; 16],
                    span_id: vec![9; 8],
                    ..LogRecord::default()
                }],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

fn metrics_request() -> ExportMetricsServiceRequest {
    let attributes = vec![string("faas.trigger", "other")];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "faas.invocations".into(),
                        unit: "{invocation}".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![NumberDataPoint {
                                attributes: attributes.clone(),
                                start_time_unix_nano: 1,
                                time_unix_nano: 2,
                                value: Some(number_data_point::Value::AsInt(3)),
                                ..NumberDataPoint::default()
                            }],
                            aggregation_temporality: 1,
                            is_monotonic: true,
                        })),
                        ..Metric::default()
                    },
                    Metric {
                        name: "faas.invoke_duration".into(),
                        unit: "s".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                attributes,
                                start_time_unix_nano: 1,
                                time_unix_nano: 2,
                                count: 2,
                                sum: Some(0.5),
                                bucket_counts: vec![1, 1, 0],
                                explicit_bounds: vec![0.1, 1.0],
                                ..HistogramDataPoint::default()
                            }],
                            aggregation_temporality: 2,
                        })),
                        ..Metric::default()
                    },
                ],
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
}

fn expected_log() -> ReceivedLog {
    ReceivedLog {
        resource: BTreeMap::from([("service.name".to_owned(), Value::from("orders"))]),
        scope_name: String::new(),
        time_unix_nanos: 1_700_000_000_005_000_000,
        observed_unix_nanos: 1_700_000_000_030_000_000,
        severity_number: 17,
        severity_text: "ERROR".into(),
        body: "[ERROR]\tboom".into(),
        trace_id: "07".repeat(16),
        span_id: "09".repeat(8),
        flags: 1,
        attributes: BTreeMap::from([("faas.invocation_id".to_owned(), Value::from("req-1"))]),
    }
}

async fn post(receiver: &ReceiverHandle, path: &str, content_type: &str, body: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(receiver.http_addr())
        .await
        .expect("the receiver accepts connections");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: {content_type}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        receiver.http_addr(),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head sent");
    stream.write_all(body).await.expect("body sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("the response is read");
    response.lines().next().unwrap_or_default().to_owned()
}

fn assert_decoded(receiver: &ReceiverHandle) {
    assert_eq!(receiver.logs(), vec![expected_log()]);
    let metrics = receiver.metrics();
    assert_eq!(metrics.len(), 2);
    let (sum, histogram) = (&metrics[0], &metrics[1]);
    assert_eq!(
        (sum.name.as_str(), sum.kind, sum.delta, sum.monotonic),
        ("faas.invocations", MetricKind::Sum, true, true)
    );
    assert_eq!(sum.points[0].value, 3.0);
    assert_eq!(
        sum.points[0].attributes,
        BTreeMap::from([("faas.trigger".to_owned(), Value::from("other"))])
    );
    assert_eq!(
        (histogram.name.as_str(), histogram.kind, histogram.delta),
        ("faas.invoke_duration", MetricKind::Histogram, false)
    );
    let point = &histogram.points[0];
    assert_eq!((point.count, point.value), (2, 0.5));
    assert_eq!(point.bucket_counts, vec![1, 1, 0]);
    assert_eq!(point.explicit_bounds, vec![0.1, 1.0]);
    assert_eq!(histogram.unit, "s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_metrics_and_logs() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("binds");
    let protobuf = "application/x-protobuf";
    let status = post(
        &receiver,
        "/v1/logs",
        protobuf,
        &logs_request().encode_to_vec(),
    )
    .await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let body = metrics_request().encode_to_vec();
    let status = post(&receiver, "/v1/metrics", protobuf, &body).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_decoded(&receiver);
    let garbage = post(&receiver, "/v1/logs", protobuf, b"\xff\xff\xff").await;
    assert_eq!(garbage, "HTTP/1.1 400 Bad Request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_json_metrics_and_logs() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("binds");
    let json = "application/json";
    let logs = serde_json::to_vec(&logs_request()).expect("OTLP/JSON");
    assert_eq!(
        post(&receiver, "/v1/logs", json, &logs).await,
        "HTTP/1.1 200 OK"
    );
    let metrics = serde_json::to_vec(&metrics_request()).expect("OTLP/JSON");
    assert_eq!(
        post(&receiver, "/v1/metrics", json, &metrics).await,
        "HTTP/1.1 200 OK"
    );
    assert_decoded(&receiver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_metrics_and_logs() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("binds");
    let mut logs = LogsServiceClient::connect(receiver.grpc_endpoint())
        .await
        .expect("gRPC connects");
    logs.export(logs_request()).await.expect("logs accepted");
    let mut metrics = MetricsServiceClient::connect(receiver.grpc_endpoint())
        .await
        .expect("gRPC connects");
    metrics
        .export(metrics_request())
        .await
        .expect("metrics accepted");
    let (received_logs, received_metrics) = receiver
        .wait_for_signals(|logs, metrics| !logs.is_empty() && metrics.len() == 2, WAIT)
        .await
        .expect("both arrive");
    assert_eq!(received_logs.len(), 1);
    assert_eq!(received_metrics.len(), 2);
    assert_decoded(&receiver);
    let paths: Vec<String> = receiver.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
        ]
    );
}
