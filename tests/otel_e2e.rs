//! Invocation spans end to end: the real extension binary as a layer in the local sandbox (which
//! freezes the processes between invocations), the Python example function, and an OTLP receiver that
//! decodes what was really exported.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_sandbox::{Invocation, Sandbox, SandboxConfig, ShutdownReason, Status, TraceMode};
use serde_json::{json, Value};
use trace_view::{
    Mode, ReceivedSpan, Receiver, ReceiverConfig, ReceiverHandle, SpanKind, StatusCode, Transport,
};

use lambda_lens_test_support::containment::assert_contained;
use lambda_lens_test_support::layer::build_layer;
use lambda_lens_test_support::python_receiver::PythonReceiver;
use lambda_lens_test_support::received::invocation_span;
use lambda_lens_test_support::repo::repo_root;
use lambda_lens_test_support::sandbox::{process_dir, python_sandbox_config};

/// This build's extension binary, installed in each test's layer.
const LAMBDA_LENS: &str = env!("CARGO_BIN_EXE_lambda-lens");

const ACTIVE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn config(opt: &Path, endpoint: &str, extra: &[(&str, &str)]) -> SandboxConfig {
    let mut cfg = python_sandbox_config(opt).with_env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint);
    for (k, v) in extra {
        cfg = cfg.with_env(*k, *v);
    }
    cfg
}

fn receiver() -> ReceiverHandle {
    Receiver::start(ReceiverConfig::default()).expect("OTLP receiver starts")
}

fn children<'a>(spans: &'a [ReceivedSpan], parent: &ReceivedSpan) -> Vec<&'a ReceivedSpan> {
    let mut kids: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id.as_deref() == Some(parent.span_id.as_str()))
        .collect();
    kids.sort_by(|a, b| a.name.cmp(&b.name));
    kids
}

/// The `init` span of `inv`'s trace: its sibling, under the same parent.
fn cold_start_of<'a>(spans: &'a [ReceivedSpan], inv: &ReceivedSpan) -> &'a ReceivedSpan {
    let init = spans
        .iter()
        .find(|s| s.trace_id == inv.trace_id && s.name == "init")
        .unwrap_or_else(|| panic!("no init span in {}: {spans:#?}", inv.trace_id));
    assert_eq!(init.parent_span_id, inv.parent_span_id);
    init
}

fn names(spans: &[&ReceivedSpan]) -> Vec<String> {
    spans.iter().map(|s| s.name.clone()).collect()
}

/// Records, at the moment lambda-lens calls `/extension/event/next` after each invocation, which
/// invocation spans the receiver already holds.
fn watch_next_calls(
    sandbox: &Sandbox,
    receiver: &Arc<ReceiverHandle>,
) -> Arc<Mutex<Vec<(String, bool)>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let spans = Arc::clone(receiver);
    sandbox.set_extension_next_hook(move |call| {
        let log = Arc::clone(&log);
        let spans = Arc::clone(&spans);
        async move {
            let request_id = call.request_id.to_string();
            let present = spans
                .spans()
                .iter()
                .any(|s| s.attributes.get("faas.invocation_id") == Some(&json!(request_id)));
            log.lock().expect("hook log").push((request_id, present));
        }
    });
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_error_and_timeout_become_exact_spans_exported_before_the_freeze() {
    let receiver = Arc::new(receiver());
    let opt = build_layer(LAMBDA_LENS, "main");
    let sandbox = Sandbox::start(config(
        &opt,
        &receiver.http_endpoint(),
        &[("OTEL_SERVICE_NAME", "lens-e2e")],
    ))
    .await
    .expect("sandbox starts");
    let next_calls = watch_next_calls(&sandbox, &receiver);

    let ok = sandbox
        .invoke(Invocation::json(&json!({"name": "cold"})).with_trace_header(ACTIVE))
        .await;
    assert_eq!(ok.status, Status::Success);
    let failed = sandbox
        .invoke(Invocation::json(&json!({"fail": "asked to fail"})).with_trace(TraceMode::Active))
        .await;
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
    let ok_id = ok.request_id.to_string();
    let failed_id = failed.request_id.to_string();

    // Exported before lambda-lens let the sandbox freeze.
    let seen = next_calls.lock().expect("hook log").clone();
    assert_eq!(seen, vec![(ok_id.clone(), true), (failed_id.clone(), true)]);

    let spans = receiver.spans();
    assert_contained(&spans);
    let inv = invocation_span(&spans, &ok_id);
    assert_eq!(inv.name, "test-function");
    assert_eq!(inv.trace_id, "5759e988bd862e3fe1be46a994272793");
    assert_eq!(inv.parent_span_id.as_deref(), Some("53995c3f42cd8ad8"));
    assert_eq!(inv.status_code, StatusCode::Unset);
    assert_eq!(inv.attributes["faas.trigger"], json!("other"));
    assert_eq!(inv.attributes["faas.coldstart"], json!(true));
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function";
    assert_eq!(inv.attributes["aws.lambda.invoked_arn"], json!(arn));
    assert_eq!(inv.attributes["cloud.resource_id"], json!(arn));
    assert_eq!(inv.attributes["cloud.account.id"], json!("123456789012"));
    assert_eq!(inv.attributes["lambda_lens.status"], json!("success"));
    assert_eq!(inv.attributes["lambda_lens.event.size"], json!(15));
    assert_eq!(inv.resource["service.name"], json!("lens-e2e"));
    assert_eq!(inv.resource["faas.name"], json!("test-function"));
    assert_eq!(inv.resource["cloud.provider"], json!("aws"));
    assert_eq!(inv.resource["cloud.platform"], json!("aws_lambda"));
    assert_eq!(inv.resource["cloud.region"], json!("us-east-1"));
    assert_eq!(inv.resource["faas.max_memory"], json!(128 * 1024 * 1024));
    assert!(inv.end_unix_nanos >= inv.start_unix_nanos);
    assert_contained(&spans);
    let kids = children(&spans, inv);
    assert_eq!(
        names(&kids),
        ["responseDuration", "responseLatency", "runtimeOverhead"]
    );
    // The phases split the invocation, on the proxy's clock.
    assert_eq!(kids[1].start_unix_nanos, inv.start_unix_nanos);
    assert_eq!(kids[1].end_unix_nanos, kids[0].start_unix_nanos);
    assert_eq!(kids[0].end_unix_nanos, kids[2].start_unix_nanos);
    assert_eq!(kids[2].end_unix_nanos, inv.end_unix_nanos);
    // The cold start is the invocation's sibling, under the same caller.
    let init = cold_start_of(&spans, inv);
    assert_eq!(init.attributes["lambda_lens.init.type"], json!("on-demand"));
    // The init's report, the last of its events, is waited for: the span has its duration.
    let init_reports: Vec<Value> = sandbox
        .telemetry_emitted()
        .into_iter()
        .filter(|e| e["type"] == "platform.initReport")
        .map(|e| e["record"]["metrics"]["durationMs"].clone())
        .collect();
    assert_eq!(
        init.attributes["lambda_lens.init.duration_ms"],
        init_reports[0]
    );
    assert!(init.end_unix_nanos <= inv.start_unix_nanos);

    let err = invocation_span(&spans, &failed_id);
    assert_eq!(err.status_code, StatusCode::Error);
    assert_eq!(err.status_message, "ValueError: asked to fail");
    assert_eq!(err.attributes["error.type"], json!("ValueError"));
    assert_eq!(err.attributes["faas.coldstart"], json!(false));
    assert_eq!(err.attributes["lambda_lens.status"], json!("error"));
    let exception = err
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("exception event");
    assert_eq!(exception.attributes["exception.type"], json!("ValueError"));
    assert!(
        spans
            .iter()
            .all(|s| s.trace_id != err.trace_id || s.name != "init"),
        "warm: no init span"
    );
    assert!(spans.iter().all(|s| s.name != "platform.report"));

    // A timeout: the sandbox resets; the span is exported during the SHUTDOWN that follows.
    let timed_out = sandbox
        .invoke(Invocation::json(&json!({"sleep_ms": 5000})))
        .await;
    assert_eq!(timed_out.status, Status::Timeout);
    let timeout_id = timed_out.request_id.to_string();
    let spans = receiver
        .wait_for_spans(
            |s: &[ReceivedSpan]| {
                s.iter().any(|x| {
                    x.attributes.get("faas.invocation_id") == Some(&json!(timeout_id))
                        && x.kind == SpanKind::Server
                })
            },
            Duration::from_secs(10),
        )
        .await
        .expect("timeout span exported");
    assert_contained(&spans);
    let t = invocation_span(&spans, &timed_out.request_id.to_string());
    assert_eq!(t.status_code, StatusCode::Error);
    assert_eq!(t.attributes["error.type"], json!("Sandbox.Timeout"));
    assert_eq!(t.attributes["lambda_lens.status"], json!("timeout"));

    // After the reset the environment re-inits: a cold start again, with phase "invoke".
    let after = sandbox
        .invoke(Invocation::json(&json!({"name": "again"})))
        .await;
    assert_eq!(after.status, Status::Success);
    let after_id = after.request_id.to_string();
    let spans = receiver
        .wait_for_spans(
            |s: &[ReceivedSpan]| {
                s.iter()
                    .any(|x| x.attributes.get("faas.invocation_id") == Some(&json!(after_id)))
            },
            Duration::from_secs(10),
        )
        .await
        .expect("post-reset span");
    assert_contained(&spans);
    let again = invocation_span(&spans, &after_id);
    assert_eq!(again.attributes["faas.coldstart"], json!(true));
    let init = cold_start_of(&spans, again);
    assert_eq!(init.attributes["lambda_lens.init.phase"], json!("invoke"));

    let shutdown = sandbox.shutdown(ShutdownReason::Spindown).await;
    assert_eq!(
        shutdown.process("lambda-lens").and_then(|p| p.code),
        Some(0)
    );
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_header_shapes_crash_and_out_of_memory_over_grpc() {
    let receiver = receiver();
    let opt = build_layer(LAMBDA_LENS, "shapes");
    let sandbox = Sandbox::start(config(
        &opt,
        &receiver.grpc_endpoint(),
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
    ))
    .await
    .expect("sandbox starts");
    let unsampled = sandbox
        .invoke(Invocation::json(&json!({})).with_trace_header(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        ))
        .await;
    let lineage = sandbox
        .invoke(
            Invocation::json(&json!({}))
                .with_trace_header("Root=1-65f2a0e2-6ac9f94e5c1e0e8b4bf0e1c7;Lineage=a87bd80c:0"),
        )
        .await;
    let none = sandbox.invoke(Invocation::json(&json!({}))).await;
    let crashed = sandbox.invoke(Invocation::json(&json!({"exit": 3}))).await;
    assert_ne!(crashed.status, Status::Success);
    let out_of_memory = sandbox
        .invoke(Invocation::json(&json!({"alloc_mb": 512})))
        .await;
    assert_ne!(out_of_memory.status, Status::Success);
    let oom_id = out_of_memory.request_id.to_string();
    let crashed_id = crashed.request_id.to_string();
    let spans = receiver
        .wait_for_spans(
            |s: &[ReceivedSpan]| {
                [&crashed_id, &oom_id].iter().all(|id| {
                    s.iter()
                        .any(|x| x.attributes.get("faas.invocation_id") == Some(&json!(id)))
                })
            },
            Duration::from_secs(10),
        )
        .await
        .expect("crash and out-of-memory spans exported");
    assert_contained(&spans);

    // Sampled=0 is recorded anyway by default (every invocation is seen).
    let s = invocation_span(&spans, &unsampled.request_id.to_string());
    assert_eq!(s.trace_id, "5759e988bd862e3fe1be46a994272793");
    assert_eq!(s.parent_span_id.as_deref(), Some("53995c3f42cd8ad8"));
    let s = invocation_span(&spans, &lineage.request_id.to_string());
    assert_eq!(s.trace_id, "65f2a0e26ac9f94e5c1e0e8b4bf0e1c7");
    assert_eq!(s.parent_span_id, None);
    let s = invocation_span(&spans, &none.request_id.to_string());
    let epoch = u64::from_str_radix(&s.trace_id[..8], 16).expect("hex epoch");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        now.abs_diff(epoch) < 600,
        "X-Ray-compatible id: {}",
        s.trace_id
    );
    assert_eq!(s.parent_span_id, None);
    let c = invocation_span(&spans, &crashed_id);
    assert_eq!(c.status_code, StatusCode::Error);
    assert_eq!(c.attributes["error.type"], json!("Runtime.ExitError"));
    let oom = invocation_span(&spans, &oom_id);
    assert_eq!(oom.status_code, StatusCode::Error);
    assert_eq!(oom.attributes["error.type"], json!("Runtime.OutOfMemory"));
    let requests = receiver.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.transport == Transport::Grpc));
    sandbox.shutdown(ShutdownReason::Spindown).await;
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_or_hanging_collector_never_changes_or_delays_the_invocation() {
    let receiver = receiver();
    let opt = build_layer(LAMBDA_LENS, "down");
    let sandbox = Sandbox::start(config(
        &opt,
        &receiver.http_endpoint(),
        &[("LAMBDA_LENS_FLUSH_TIMEOUT_MS", "300")],
    ))
    .await
    .expect("sandbox starts");
    let first = sandbox
        .invoke(Invocation::json(&json!({"echo": true, "n": 1})))
        .await;
    assert_eq!(first.body_json(), json!({"echo": true, "n": 1}));

    receiver.set_mode(Mode::Down).await.expect("receiver down");
    let down = sandbox
        .invoke(Invocation::json(&json!({"echo": true, "n": 2})))
        .await;
    assert_eq!(down.status, Status::Success);
    assert_eq!(
        down.body_json(),
        json!({"echo": true, "n": 2}),
        "result unchanged"
    );
    assert!(
        down.duration < Duration::from_millis(1500),
        "invocation ended within the budget: {:?}",
        down.duration
    );

    receiver.set_mode(Mode::Hang).await.expect("receiver hangs");
    let hang = sandbox
        .invoke(Invocation::json(&json!({"echo": true, "n": 3})))
        .await;
    assert_eq!(hang.body_json(), json!({"echo": true, "n": 3}));
    assert!(
        hang.duration < Duration::from_millis(1500),
        "hang bounded by the flush budget: {:?}",
        hang.duration
    );

    receiver
        .set_mode(Mode::Normal)
        .await
        .expect("receiver back");
    let back = sandbox
        .invoke(Invocation::json(&json!({"echo": true, "n": 4})))
        .await;
    let ids: Vec<String> = [&down, &hang, &back]
        .iter()
        .map(|o| o.request_id.to_string())
        .collect();
    let spans = receiver
        .wait_for_spans(
            |s: &[ReceivedSpan]| {
                ids.iter().all(|id| {
                    s.iter().any(|x| {
                        x.kind == SpanKind::Server
                            && x.attributes.get("faas.invocation_id") == Some(&json!(id))
                    })
                })
            },
            Duration::from_secs(10),
        )
        .await
        .expect("queued spans delivered once the collector is back");
    assert_contained(&spans);
    for id in &ids {
        let count = spans
            .iter()
            .filter(|x| {
                x.kind == SpanKind::Server
                    && x.attributes.get("faas.invocation_id") == Some(&json!(id))
            })
            .count();
        assert!(count >= 1, "{id} delivered");
    }
    sandbox.shutdown(ShutdownReason::Spindown).await;
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_based_sampler_honours_the_xray_sampled_flag() {
    let receiver = receiver();
    let opt = build_layer(LAMBDA_LENS, "sampler");
    let sandbox = Sandbox::start(config(
        &opt,
        &receiver.http_endpoint(),
        &[("OTEL_TRACES_SAMPLER", "parentbased_always_on")],
    ))
    .await
    .expect("sandbox starts");
    let dropped = sandbox
        .invoke(Invocation::json(&json!({})).with_trace(TraceMode::Unsampled))
        .await;
    let kept = sandbox
        .invoke(Invocation::json(&json!({})).with_trace(TraceMode::Active))
        .await;
    sandbox.shutdown(ShutdownReason::Spindown).await;
    let kept_id = kept.request_id.to_string();
    let spans = receiver
        .wait_for_spans(
            |s: &[ReceivedSpan]| {
                s.iter().any(|x| {
                    x.kind == SpanKind::Server
                        && x.attributes.get("faas.invocation_id") == Some(&json!(kept_id))
                })
            },
            Duration::from_secs(10),
        )
        .await
        .expect("the sampled invocation is exported");
    assert_contained(&spans);
    invocation_span(&spans, &kept_id);
    let dropped_id = json!(dropped.request_id.to_string());
    assert!(
        spans
            .iter()
            .all(|s| s.attributes.get("faas.invocation_id") != Some(&dropped_id)),
        "nothing of the Sampled=0 invocation"
    );
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

/// Resident memory of the process whose command line names `needle`, in KiB.
fn rss_kib_of(needle: &str) -> u64 {
    let status = std::fs::read_to_string(process_dir(needle).join("status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .expect("VmRSS in kB")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_while_the_collector_is_down() {
    let receiver = receiver();
    let opt = build_layer(LAMBDA_LENS, "bounded");
    let sandbox = Sandbox::start(config(
        &opt,
        &receiver.http_endpoint(),
        &[
            ("LAMBDA_LENS_EXPORT_QUEUE_SPANS", "16"),
            ("LAMBDA_LENS_FLUSH_TIMEOUT_MS", "100"),
        ],
    ))
    .await
    .expect("sandbox starts");
    let extension = opt
        .join("extensions/lambda-lens")
        .to_string_lossy()
        .into_owned();
    sandbox.invoke(Invocation::json(&json!({}))).await;
    receiver.set_mode(Mode::Down).await.expect("receiver down");
    let blob = "x".repeat(64 * 1024);
    for _ in 0..10 {
        sandbox
            .invoke(Invocation::json(&json!({"echo": true, "blob": blob})))
            .await;
    }
    let after_10 = rss_kib_of(&extension);
    for _ in 0..40 {
        let out = sandbox
            .invoke(Invocation::json(&json!({"echo": true, "blob": blob})))
            .await;
        assert_eq!(out.status, Status::Success);
    }
    let after_50 = rss_kib_of(&extension);
    assert!(
        after_50 <= after_10 + 1024,
        "RSS grew from {after_10} KiB to {after_50} KiB while the collector was down"
    );
    receiver.clear();
    receiver
        .set_mode(Mode::Normal)
        .await
        .expect("receiver back");
    let last = sandbox.invoke(Invocation::json(&json!({}))).await;
    let last_id = last.request_id.to_string();
    let spans = receiver
        .wait_for_spans(
            |s: &[ReceivedSpan]| {
                s.iter()
                    .any(|x| x.attributes.get("faas.invocation_id") == Some(&json!(last_id)))
            },
            Duration::from_secs(10),
        )
        .await
        .expect("export resumes");
    assert_contained(&spans);
    assert!(
        spans.len() <= 16,
        "the queue kept at most 16 spans: {} arrived",
        spans.len()
    );
    sandbox.shutdown(ShutdownReason::Spindown).await;
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opentelemetry_projects_own_protobuf_bindings_decode_the_export() {
    let mut python = PythonReceiver::start().await;
    let opt = build_layer(LAMBDA_LENS, "third-party");
    let sandbox = Sandbox::start(config(
        &opt,
        &python.endpoint,
        &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")],
    ))
    .await
    .expect("sandbox starts");
    let out = sandbox
        .invoke(Invocation::json(&json!({"fail": "decoded elsewhere"})).with_trace_header(ACTIVE))
        .await;
    let id = out.request_id.to_string();
    let span = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let span = python.next().await;
            if span["kind"] == 2 && span["attributes"]["faas.invocation_id"] == json!(id) {
                return span;
            }
        }
    })
    .await
    .expect("the invocation span reached the Python receiver");
    assert_eq!(span["path"], "/v1/traces");
    assert_eq!(span["scope"], "lambda-lens");
    assert_eq!(span["name"], "test-function");
    assert_eq!(span["trace_id"], "5759e988bd862e3fe1be46a994272793");
    assert_eq!(span["parent_span_id"], "53995c3f42cd8ad8");
    assert_eq!(span["status_code"], 2, "STATUS_CODE_ERROR");
    assert_eq!(span["status_message"], "ValueError: decoded elsewhere");
    assert_eq!(span["attributes"]["error.type"], "ValueError");
    assert_eq!(span["attributes"]["faas.coldstart"], true);
    assert_eq!(span["resource"]["cloud.platform"], "aws_lambda");
    sandbox.shutdown(ShutdownReason::Spindown).await;
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_runtime_done_wait_spans_close_on_the_proxys_view() {
    let receiver = receiver();
    let opt = build_layer(LAMBDA_LENS, "no-wait");
    let sandbox = Sandbox::start(config(
        &opt,
        &receiver.http_endpoint(),
        &[("LAMBDA_LENS_RUNTIME_DONE_WAIT_MS", "0")],
    ))
    .await
    .expect("sandbox starts");
    let out = sandbox.invoke(Invocation::json(&json!({"n": 1}))).await;
    let id = out.request_id.to_string();
    let spans = receiver.spans();
    assert_contained(&spans);
    let inv = invocation_span(&spans, &id);
    assert_eq!(inv.status_code, StatusCode::Unset);
    assert_eq!(inv.attributes["lambda_lens.status"], json!("success"));
    // The cold start does not wait for the init events: closed on the result, so the phase after
    // it only if the runtime's /next happened to come first.
    let kids = names(&children(&spans, inv));
    assert_eq!(
        kids[..2],
        ["responseDuration", "responseLatency"],
        "{kids:?}"
    );
    assert!(kids.len() == 2 || kids[2] == "runtimeOverhead", "{kids:?}");
    sandbox.shutdown(ShutdownReason::Spindown).await;
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transforms_reach_the_function_and_the_caller() {
    let receiver = receiver();
    let opt = build_layer(LAMBDA_LENS, "transforms");
    let sandbox = Sandbox::start(config(
        &opt,
        &receiver.http_endpoint(),
        &[
            ("LAMBDA_LENS_INJECT_TRACEPARENT", "true"),
            ("LAMBDA_LENS_RESPONSE_HEADERS", "true"),
            ("LAMBDA_LENS_MASK_RESPONSE_PATHS", "user.ssn"),
        ],
    ))
    .await
    .expect("sandbox starts");
    let event = std::fs::read(repo_root().join("tests/fixtures/events/apigw-rest.json"))
        .expect("API Gateway fixture");
    let http = sandbox
        .invoke(Invocation::new(event).with_trace_header(ACTIVE))
        .await;
    assert_eq!(http.status, Status::Success, "{}", http.body_text());
    let response = http.body_json();
    let seen: serde_json::Value =
        serde_json::from_str(response["body"].as_str().expect("body string")).expect("JSON body");
    let spans = receiver.spans();
    assert_contained(&spans);
    let inv = invocation_span(&spans, &http.request_id.to_string());
    let traceparent = format!("00-{}-{}-01", inv.trace_id, inv.span_id);
    assert_eq!(
        seen["headers"]["traceparent"], traceparent,
        "the function saw the invocation span as its parent"
    );
    assert_eq!(response["headers"]["traceparent"], traceparent);
    let timing = response["headers"]["Server-Timing"]
        .as_str()
        .expect("Server-Timing");
    assert!(timing.starts_with("lambda;dur="), "{timing}");
    assert_eq!(response["headers"]["Content-Type"], "application/json");

    // The span: named by route, HTTP attributes, bodies captured with the credentials redacted.
    assert_eq!(inv.name, "GET /");
    assert_eq!(inv.attributes["http.request.method"], json!("GET"));
    assert_eq!(inv.attributes["http.route"], json!("/"));
    assert_eq!(inv.attributes["http.response.status_code"], json!(200));
    assert_eq!(inv.attributes["faas.trigger"], json!("http"));
    let body = inv.attributes["lambda_lens.event.body"]
        .as_str()
        .expect("captured event");
    assert!(body.contains(r#""Authorization":"[REDACTED]""#), "{body}");
    assert!(!body.contains("eyJ") && !body.contains("Bearer"), "{body}");
    assert_eq!(inv.attributes["lambda_lens.event.truncated"], json!(false));
    assert!(
        inv.attributes["lambda_lens.event.redactions"]
            .as_i64()
            .expect("count")
            >= 2
    );
    println!(
        "captured span: {}",
        serde_json::to_string_pretty(inv).expect("span serializes")
    );

    let plain = sandbox
        .invoke(Invocation::json(
            &json!({"echo": true, "user": {"name": "Ann", "ssn": "123-45-6789"}}),
        ))
        .await;
    assert_eq!(
        plain.body_json(),
        json!({"echo": true, "user": {"name": "Ann", "ssn": "[REDACTED]"}})
    );
    sandbox.shutdown(ShutdownReason::Spindown).await;
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

/// The W3C context an API Gateway caller propagated.
const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The API Gateway fixture with the caller's `traceparent` among its headers.
fn apigw_with_traceparent() -> Vec<u8> {
    let fixture = std::fs::read(repo_root().join("tests/fixtures/events/apigw-rest.json"))
        .expect("API Gateway fixture");
    let mut event: serde_json::Value = serde_json::from_slice(&fixture).expect("JSON fixture");
    event["headers"]["traceparent"] = json!(CALLER);
    serde_json::to_vec(&event).expect("event serializes")
}

/// Invokes the API Gateway event with a `traceparent` under `env` and returns its invocation span.
async fn parent_of_apigw_event(name: &str, env: &[(&str, &str)]) -> ReceivedSpan {
    let receiver = receiver();
    let opt = build_layer(LAMBDA_LENS, name);
    let sandbox = Sandbox::start(config(&opt, &receiver.http_endpoint(), env))
        .await
        .expect("sandbox starts");
    let out = sandbox
        .invoke(Invocation::new(apigw_with_traceparent()).with_trace_header(ACTIVE))
        .await;
    assert_eq!(out.status, Status::Success, "{}", out.body_text());
    let spans = receiver.spans();
    assert_contained(&spans);
    let inv = invocation_span(&spans, &out.request_id.to_string()).clone();
    sandbox.shutdown(ShutdownReason::Spindown).await;
    std::fs::remove_dir_all(&opt).expect("layer removed");
    inv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_traceparent_is_the_parent_and_xray_a_link() {
    let inv = parent_of_apigw_event("w3c-parent", &[]).await;
    assert_eq!(inv.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(inv.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
    assert_eq!(inv.links.len(), 1, "{:?}", inv.links);
    let link = &inv.links[0];
    assert_eq!(link.trace_id, "5759e988bd862e3fe1be46a994272793");
    assert_eq!(link.span_id, "53995c3f42cd8ad8");
    assert_eq!(
        link.attributes["lambda_lens.link.source"],
        json!("xray-lambda")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xray_lambda_first_keeps_the_lambda_parent() {
    let inv = parent_of_apigw_event(
        "xray-first",
        &[("OTEL_PROPAGATORS", "xray-lambda,tracecontext")],
    )
    .await;
    assert_eq!(inv.trace_id, "5759e988bd862e3fe1be46a994272793");
    assert_eq!(inv.parent_span_id.as_deref(), Some("53995c3f42cd8ad8"));
    assert!(inv.links.is_empty(), "{:?}", inv.links);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_traceparent_states_the_samplers_decision() {
    let receiver = receiver();
    let opt = build_layer(LAMBDA_LENS, "inject-sampled");
    let env = [("LAMBDA_LENS_INJECT_TRACEPARENT", "true")];
    let sandbox = Sandbox::start(config(&opt, &receiver.http_endpoint(), &env))
        .await
        .expect("sandbox starts");
    let event = std::fs::read(repo_root().join("tests/fixtures/events/apigw-rest.json"))
        .expect("API Gateway fixture");
    // X-Ray did not sample, but the default sampler records every invocation: the function is
    // told "sampled" so that its spans join the exported ones.
    let unsampled = ACTIVE.replace("Sampled=1", "Sampled=0");
    let out = sandbox
        .invoke(Invocation::new(event).with_trace_header(&unsampled))
        .await;
    assert_eq!(out.status, Status::Success, "{}", out.body_text());
    let response = out.body_json();
    let seen: serde_json::Value =
        serde_json::from_str(response["body"].as_str().expect("body string")).expect("JSON body");
    let spans = receiver.spans();
    assert_contained(&spans);
    let inv = invocation_span(&spans, &out.request_id.to_string());
    assert_eq!(inv.trace_id, "5759e988bd862e3fe1be46a994272793");
    assert_eq!(
        seen["headers"]["traceparent"],
        format!("00-{}-{}-01", inv.trace_id, inv.span_id)
    );
    sandbox.shutdown(ShutdownReason::Spindown).await;
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

/// The hold the issue measured at ~25 ms (waiting for `platform.runtimeDone` through the Telemetry
/// API's buffering) is gone on warm successes: lambda-lens calls `/extension/event/next` as soon as
/// the response passed and the runtime asked for its next event. Loose bound; the benchmark
/// (`benches/hold.rs`) measures it precisely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_successes_release_the_environment_without_waiting_for_the_platform() {
    /// Far below the ~25 ms of a wait for `runtimeDone`, far above the sub-millisecond target.
    const LOOSE_HOLD_P50: Duration = Duration::from_millis(15);
    const WARM_INVOCATIONS: usize = 9;

    let receiver = receiver();
    let opt = build_layer(LAMBDA_LENS, "hold");
    let sandbox = Sandbox::start(config(&opt, &receiver.http_endpoint(), &[]))
        .await
        .expect("sandbox starts");
    let calls = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&calls);
    sandbox.set_extension_next_hook(move |call| {
        let log = Arc::clone(&log);
        async move {
            let at = SystemTime::now();
            log.lock()
                .expect("hook log")
                .push((call.request_id.to_string(), at));
        }
    });
    let cold = sandbox
        .invoke(Invocation::json(&json!({"n": "cold"})))
        .await;
    assert_eq!(cold.status, Status::Success);
    let mut ids = Vec::new();
    for n in 0..WARM_INVOCATIONS {
        let out = sandbox.invoke(Invocation::json(&json!({ "n": n }))).await;
        assert_eq!(out.status, Status::Success);
        ids.push(out.request_id.to_string());
    }
    let spans = receiver.spans();
    assert_contained(&spans);
    let calls = calls.lock().expect("hook log").clone();
    let mut holds: Vec<Duration> = ids
        .iter()
        .map(|id| {
            let inv = invocation_span(&spans, id);
            assert_eq!(inv.attributes["faas.coldstart"], json!(false));
            let response = children(&spans, inv)
                .into_iter()
                .find(|s| s.name == "responseDuration")
                .expect("responseDuration span");
            let response_end = UNIX_EPOCH + Duration::from_nanos(response.end_unix_nanos);
            let (_, released) = calls
                .iter()
                .find(|(request_id, _)| request_id == id)
                .expect("lambda-lens called /event/next after the invocation");
            released.duration_since(response_end).unwrap_or_default()
        })
        .collect();
    holds.sort();
    let p50 = holds[holds.len() / 2];
    assert!(p50 < LOOSE_HOLD_P50, "holds {holds:?}");
    sandbox.shutdown(ShutdownReason::Spindown).await;
    std::fs::remove_dir_all(&opt).expect("layer removed");
}
