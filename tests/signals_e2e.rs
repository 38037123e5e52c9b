//! Metrics and log records end to end: the real extension binary as a layer in the local sandbox
//! (which freezes the processes between invocations), the Python example function under
//! `awslambdaric`, and OTLP receivers that decode what was really exported — trace-view, and once
//! the OpenTelemetry project's own Python protobuf bindings.
//!
//! The scripted run: a cold start that succeeds, a handler error, a timeout (the sandbox resets),
//! then SHUTDOWN.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use lambda_sandbox::{Invocation, Sandbox, SandboxConfig, ShutdownReason, Status};
use serde_json::{json, Value};
use trace_view::{MetricKind, ReceivedLog, ReceivedMetric, Receiver, ReceiverConfig};

use lambda_lens::metrics::names as metric_names;
use lambda_lens_test_support::containment::assert_contained;
use lambda_lens_test_support::layer::build_layer;
use lambda_lens_test_support::python_receiver::PythonReceiver;
use lambda_lens_test_support::received::{invocation_span, wait_for_reports, REPORT_PREFIX};
use lambda_lens_test_support::sandbox::python_sandbox_config;

/// This build's extension binary, installed in each test's layer.
const LAMBDA_LENS: &str = env!("CARGO_BIN_EXE_lambda-lens");
/// Long enough for the export at SHUTDOWN to have arrived.
const WAIT: Duration = Duration::from_secs(15);
/// What the example function prints first in every invocation.
const EVENT_LINE: &str = "example-function: event ";

fn config(opt: &Path, endpoint: &str, extra: &[(&str, &str)]) -> SandboxConfig {
    let mut cfg = python_sandbox_config(opt)
        .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        // A collection at every flush, so each invocation's counts go out with its spans.
        .with_env("OTEL_METRIC_EXPORT_INTERVAL", "0");
    for (k, v) in extra {
        cfg = cfg.with_env(*k, *v);
    }
    cfg
}

/// The request ids of the scripted run: (cold success, handler error, timeout).
struct Run {
    ok: String,
    failed: String,
    timed_out: String,
}

async fn scripted_run(sandbox: &Sandbox) -> Run {
    let ok = sandbox
        .invoke(Invocation::json(&json!({"name": "cold"})))
        .await;
    assert_eq!(ok.status, Status::Success, "{}", ok.body_text());
    let failed = sandbox
        .invoke(Invocation::json(&json!({"fail": "asked to fail"})))
        .await;
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
    let timed_out = sandbox
        .invoke(Invocation::json(&json!({"sleep_ms": 5000})))
        .await;
    assert_eq!(timed_out.status, Status::Timeout);
    sandbox.shutdown(ShutdownReason::Spindown).await;
    Run {
        ok: ok.request_id.to_string(),
        failed: failed.request_id.to_string(),
        timed_out: timed_out.request_id.to_string(),
    }
}

/// Every series' total over the run, by metric name and `faas.trigger`: delta points summed;
/// cumulative points at their latest per start time (one per process), then summed. Histograms
/// give their count.
fn totals(metrics: &[ReceivedMetric]) -> BTreeMap<(String, String), f64> {
    let mut delta: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut cumulative: BTreeMap<(String, String, u64), (u64, f64)> = BTreeMap::new();
    for metric in metrics {
        for point in &metric.points {
            let label = point
                .attributes
                .values()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
                .join(",");
            let figure = match metric.kind {
                MetricKind::Histogram => point.count as f64,
                _ => point.value,
            };
            if metric.delta {
                *delta.entry((metric.name.clone(), label)).or_default() += figure;
            } else {
                let latest = cumulative
                    .entry((metric.name.clone(), label, point.start_unix_nanos))
                    .or_insert((0, 0.0));
                if point.time_unix_nanos >= latest.0 {
                    *latest = (point.time_unix_nanos, figure);
                }
            }
        }
    }
    for ((name, label, _), (_, figure)) in cumulative {
        *delta.entry((name, label)).or_default() += figure;
    }
    delta
}

fn records_of<'a>(logs: &'a [ReceivedLog], request_id: &str) -> Vec<&'a ReceivedLog> {
    logs.iter()
        .filter(|l| l.attributes.get("faas.invocation_id") == Some(&json!(request_id)))
        .collect()
}

/// Whether the run exports spans (`OTEL_TRACES_EXPORTER`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spans {
    Exported,
    Off,
}

/// The scripted run against trace-view, with `extra` settings; checks what every temporality
/// must agree on, and that log records carry their invocation's trace context whether or not
/// its spans are exported.
async fn run_and_check(name: &str, extra: &[(&str, &str)], delta: bool, exported: Spans) {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("OTLP receiver starts");
    let opt = build_layer(LAMBDA_LENS, name);
    let sandbox = Sandbox::start(config(&opt, &receiver.http_endpoint(), extra))
        .await
        .expect("sandbox starts");
    let run = scripted_run(&sandbox).await;
    let (logs, metrics) = wait_for_reports(&receiver, 3, WAIT).await;
    let spans = receiver.spans();
    assert_contained(&spans);
    if exported == Spans::Off {
        assert!(spans.is_empty(), "{spans:#?}");
        let paths: Vec<String> = receiver.requests().into_iter().map(|r| r.path).collect();
        assert!(paths.iter().all(|p| p != "/v1/traces"), "{paths:?}");
    }

    // Counts: exactly one of each outcome, one cold start, whatever the temporality.
    assert!(metrics.iter().all(|m| m.delta == delta), "{metrics:#?}");
    let totals = totals(&metrics);
    let other = |name: &str| totals.get(&(name.to_owned(), "other".to_owned())).copied();
    assert_eq!(
        other(metric_names::FAAS_INVOCATIONS.name),
        Some(1.0),
        "{totals:#?}"
    );
    assert_eq!(other(metric_names::FAAS_ERRORS.name), Some(1.0));
    assert_eq!(other(metric_names::FAAS_TIMEOUTS.name), Some(1.0));
    assert_eq!(other(metric_names::FAAS_COLDSTARTS.name), Some(1.0));
    assert_eq!(other(metric_names::FAAS_INVOKE_DURATION.name), Some(3.0));
    assert_eq!(other(metric_names::EVENT_SIZE.name), Some(3.0));
    // The reports' figures: one memory and billed duration per invocation, one init duration.
    assert_eq!(other(metric_names::FAAS_MEM_USAGE.name), Some(3.0));
    assert_eq!(other(metric_names::BILLED_DURATION.name), Some(3.0));
    assert_eq!(other(metric_names::FAAS_INIT_DURATION.name), Some(1.0));
    let mem = metrics
        .iter()
        .find(|m| m.name == "faas.mem_usage")
        .expect("faas.mem_usage");
    assert_eq!((mem.unit.as_str(), mem.kind), ("By", MetricKind::Histogram));
    let duration = metrics
        .iter()
        .find(|m| m.name == "faas.invoke_duration")
        .expect("faas.invoke_duration");
    assert_eq!(duration.unit, "s");
    assert_eq!(
        duration.points[0].explicit_bounds,
        metric_names::DURATION_BOUNDS
    );

    // Every function line once, joined to its invocation's span: one trace per invocation.
    let mut traces = std::collections::BTreeSet::new();
    for (id, expected) in [
        (&run.ok, r#"{"name": "cold"}"#),
        (&run.failed, r#"{"fail": "asked to fail"}"#),
        (&run.timed_out, r#"{"sleep_ms": 5000}"#),
    ] {
        let records = records_of(&logs, id);
        let (trace_id, span_id) = match exported {
            Spans::Exported => {
                let span = invocation_span(&spans, id);
                (span.trace_id.clone(), span.span_id.clone())
            }
            Spans::Off => {
                let first = records.first().expect("the invocation's log records");
                (first.trace_id.clone(), first.span_id.clone())
            }
        };
        assert_eq!((trace_id.len(), span_id.len()), (32, 16), "{records:#?}");
        assert!(trace_id.bytes().any(|b| b != b'0'), "{records:#?}");
        assert!(traces.insert(trace_id.clone()), "{id}: a trace of its own");
        let event_lines: Vec<_> = records
            .iter()
            .filter(|l| l.body.starts_with(EVENT_LINE))
            .collect();
        assert_eq!(event_lines.len(), 1, "{id}: {records:#?}");
        assert_eq!(event_lines[0].body, format!("{EVENT_LINE}{expected}"));
        for record in &records {
            assert_eq!(record.trace_id, trace_id, "{record:#?}");
            assert_eq!(record.span_id, span_id, "{record:#?}");
            assert_eq!(record.flags, 1, "sampled");
        }
        // The report joined its invocation, though it arrived after the freeze.
        let reports: Vec<_> = records
            .iter()
            .filter(|l| l.body.starts_with(REPORT_PREFIX))
            .collect();
        assert_eq!(reports.len(), 1, "{id}: {records:#?}");
        assert!(reports[0]
            .body
            .starts_with(&format!("{REPORT_PREFIX}{id}\tDuration: ")));
        assert_eq!(
            reports[0].attributes["lambda_lens.report.memory_size_mb"],
            json!(128.0)
        );
    }
    let failed = records_of(&logs, &run.failed);
    let error_line = failed
        .iter()
        .find(|l| l.severity_text == "ERROR" && !l.body.starts_with("REPORT"))
        .unwrap_or_else(|| panic!("the handler's error line: {failed:#?}"));
    assert_eq!(error_line.severity_number, 17);
    assert!(error_line.body.contains("asked to fail"), "{error_line:#?}");
    let timeout_report = records_of(&logs, &run.timed_out)
        .into_iter()
        .find(|l| l.body.starts_with("REPORT"))
        .expect("the timeout's report");
    assert_eq!(timeout_report.severity_text, "ERROR");
    assert!(timeout_report.body.contains("\tStatus: timeout"));
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_metrics_and_joined_logs_of_a_scripted_run() {
    run_and_check("signals-delta", &[], true, Spans::Exported).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_metrics_without_spans() {
    run_and_check(
        "signals-no-traces",
        &[("OTEL_TRACES_EXPORTER", "none")],
        true,
        Spans::Off,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cumulative_metrics_give_the_same_totals() {
    run_and_check(
        "signals-cumulative",
        &[(
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "cumulative",
        )],
        false,
        Spans::Exported,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_turns_logs_and_metrics_off() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("OTLP receiver starts");
    let opt = build_layer(LAMBDA_LENS, "signals-none");
    let sandbox = Sandbox::start(config(
        &opt,
        &receiver.http_endpoint(),
        &[
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ],
    ))
    .await
    .expect("sandbox starts");
    let out = sandbox.invoke(Invocation::json(&json!({"n": 1}))).await;
    sandbox.shutdown(ShutdownReason::Spindown).await;
    let spans = receiver.spans();
    assert_contained(&spans);
    invocation_span(&spans, &out.request_id.to_string());
    let paths: Vec<String> = receiver.requests().into_iter().map(|r| r.path).collect();
    assert!(paths.iter().all(|p| p == "/v1/traces"), "{paths:?}");
    assert!(receiver.logs().is_empty() && receiver.metrics().is_empty());
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opentelemetry_projects_own_protobuf_bindings_decode_logs_and_metrics() {
    let mut python = PythonReceiver::start().await;
    let opt = build_layer(LAMBDA_LENS, "signals-third-party");
    let sandbox = Sandbox::start(config(
        &opt,
        &python.endpoint,
        &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")],
    ))
    .await
    .expect("sandbox starts");
    let out = sandbox
        .invoke(Invocation::json(&json!({"fail": "decoded elsewhere"})))
        .await;
    sandbox.shutdown(ShutdownReason::Spindown).await;
    let id = out.request_id.to_string();
    let (mut event_line, mut errors) = (None::<Value>, None::<Value>);
    tokio::time::timeout(WAIT, async {
        while event_line.is_none() || errors.is_none() {
            let decoded = python.next().await;
            let body = decoded["body"].as_str().unwrap_or_default();
            if decoded["signal"] == "log" && body.starts_with(EVENT_LINE) {
                event_line = Some(decoded);
            } else if decoded["signal"] == "metric" && decoded["name"] == "faas.errors" {
                errors = Some(decoded);
            }
        }
    })
    .await
    .expect("a log record and faas.errors reached the Python receiver");
    let event_line = event_line.expect("log record");
    assert_eq!(event_line["scope"], "lambda-lens");
    assert_eq!(event_line["attributes"]["faas.invocation_id"], json!(id));
    assert_eq!(event_line["trace_id"].as_str().map(str::len), Some(32));
    assert_eq!(event_line["span_id"].as_str().map(str::len), Some(16));
    let errors = errors.expect("faas.errors");
    assert_eq!(errors["kind"], "sum");
    assert_eq!(errors["unit"], "{error}");
    assert_eq!(errors["temporality"], 1, "AGGREGATION_TEMPORALITY_DELTA");
    assert_eq!(errors["value"], 1);
    assert_eq!(errors["attributes"]["faas.trigger"], "other");
    std::fs::remove_dir_all(&opt).expect("layer removed");
}
