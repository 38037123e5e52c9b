//! lambda-lens on Lambda Managed Instances, end to end: the real extension binary as a layer in the
//! sandbox's Managed Instances mode (SHUTDOWN-only registration, telemetry schema 2025-01-29, no
//! `platform.runtimeDone`, never frozen), the Python example function under `awslambdaric` forking one
//! worker per concurrent request, 16 callers at once, and an OTLP receiver decoding what was exported.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lambda_sandbox::{
    Invocation, InvokeOutcome, Sandbox, SandboxConfig, ShutdownReason, Status,
    MAX_MANAGED_CONCURRENCY,
};
use serde_json::{json, Value};
use tokio::task::JoinSet;
use trace_view::{Mode, ReceivedSpan, Receiver, ReceiverConfig, SpanKind};

use lambda_lens_test_support::containment::assert_contained;
use lambda_lens_test_support::layer::build_layer;
use lambda_lens_test_support::repo::repo_root;
use lambda_lens_test_support::sandbox::{python_function_config, python_sandbox_config};

/// This build's extension binary, installed in the test's layer.
const LAMBDA_LENS: &str = env!("CARGO_BIN_EXE_lambda-lens");
/// Callers invoking at the same time: the environment's whole concurrency.
const CALLERS: u16 = MAX_MANAGED_CONCURRENCY;
/// Invocations each caller makes, one after the other (a few seconds of load in all).
const PER_CALLER: u16 = 50;
/// Header of each event naming its caller and sequence number, echoed back by the function.
const MARKER: &str = "x-lens-caller";

/// One invocation's event: the API Gateway fixture with its own W3C context and marker.
struct Call {
    marker: String,
    trace_id: String,
    parent_id: String,
    event: Bytes,
}

fn calls() -> Vec<Call> {
    let fixture = std::fs::read(repo_root().join("tests/fixtures/events/apigw-rest.json"))
        .expect("API Gateway fixture");
    let template: Value = serde_json::from_slice(&fixture).expect("JSON fixture");
    let mut calls = Vec::new();
    for caller in 0..CALLERS {
        for seq in 0..PER_CALLER {
            let trace_id = format!("4bf92f3577b34da6{caller:08x}{seq:08x}");
            let parent_id = format!("00f067aa{caller:04x}{seq:04x}");
            let marker = format!("{caller}-{seq}");
            let mut event = template.clone();
            event["headers"]["traceparent"] = json!(format!("00-{trace_id}-{parent_id}-01"));
            event["headers"][MARKER] = json!(marker);
            calls.push(Call {
                marker,
                trace_id,
                parent_id,
                event: Bytes::from(serde_json::to_vec(&event).expect("event serializes")),
            });
        }
    }
    calls
}

/// Runs every call, `CALLERS` at a time (each caller its own sequence), and returns the outcomes
/// by marker.
async fn invoke_all(
    config: SandboxConfig,
    calls: &[Call],
) -> (Sandbox, BTreeMap<String, InvokeOutcome>) {
    let sandbox = Arc::new(Sandbox::start(config).await.expect("sandbox starts"));
    let mut callers = JoinSet::new();
    for caller in 0..usize::from(CALLERS) {
        let sandbox = Arc::clone(&sandbox);
        let mine: Vec<(String, Bytes)> = calls
            .iter()
            .skip(caller * usize::from(PER_CALLER))
            .take(usize::from(PER_CALLER))
            .map(|c| (c.marker.clone(), c.event.clone()))
            .collect();
        callers.spawn(async move {
            let mut outcomes = Vec::new();
            for (marker, event) in mine {
                outcomes.push((marker, sandbox.invoke(Invocation::new(event)).await));
            }
            outcomes
        });
    }
    let outcomes = callers.join_all().await.into_iter().flatten().collect();
    let sandbox = Arc::into_inner(sandbox).expect("every caller is done");
    (sandbox, outcomes)
}

fn attribute_json(span: &ReceivedSpan, key: &str) -> Value {
    let text = span.attributes[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{key} is JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_each_yield_their_own_spans_exported_in_batches() {
    let calls = calls();
    let total = calls.len();
    let receiver = Receiver::start(ReceiverConfig::default()).expect("OTLP receiver starts");
    let opt = build_layer(LAMBDA_LENS, "managed-instances");
    let config = python_sandbox_config(&opt)
        .with_managed_instances(CALLERS)
        .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint());
    let (sandbox, outcomes) = invoke_all(config, &calls).await;
    let lens = sandbox.extensions();
    let shutdown = sandbox.shutdown(ShutdownReason::Spindown).await;
    std::fs::remove_dir_all(&opt).expect("layer removed");

    // lambda-lens registered for SHUTDOWN only and left cleanly after draining.
    assert_eq!(lens.len(), 1, "{lens:?}");
    assert_eq!(lens[0].events, [lambda_sandbox::EventKind::Shutdown]);
    let exit = shutdown.process("lambda-lens").expect("lambda-lens ran");
    assert_eq!(exit.code, Some(0), "{exit:?}");

    // Every function result is byte for byte what the function returns without the layer.
    let (baseline, expected) = invoke_all(
        python_function_config().with_managed_instances(CALLERS),
        &calls,
    )
    .await;
    baseline.shutdown(ShutdownReason::Spindown).await;
    assert_eq!(outcomes.len(), total);
    for (marker, outcome) in &outcomes {
        assert_eq!(
            outcome.status,
            Status::Success,
            "{marker}: {}",
            outcome.body_text()
        );
        assert_eq!(outcome.body, expected[marker].body, "{marker}");
        let answered = outcome.body_json();
        let seen: Value = serde_json::from_str(answered["body"].as_str().expect("body"))
            .expect("the function lists the headers it saw");
        assert_eq!(seen["headers"][MARKER], json!(marker));
    }

    // Each invocation has exactly its own spans: its span, its parent, its event and its response.
    let spans = receiver.spans();
    assert_contained(&spans);
    let by_request: BTreeMap<String, &ReceivedSpan> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Server)
        .map(|s| {
            let id = s.attributes["faas.invocation_id"]
                .as_str()
                .expect("invocation id");
            (id.to_owned(), s)
        })
        .collect();
    assert_eq!(
        by_request.len(),
        total,
        "one invocation span per invocation"
    );
    let mut trace_ids = BTreeSet::new();
    for call in &calls {
        let outcome = &outcomes[&call.marker];
        let span = by_request[&outcome.request_id.to_string()];
        assert_eq!(span.trace_id, call.trace_id, "{}", call.marker);
        assert_eq!(
            span.parent_span_id.as_deref(),
            Some(call.parent_id.as_str())
        );
        let event = attribute_json(span, "lambda_lens.event.body");
        assert_eq!(event["headers"][MARKER], json!(call.marker));
        // The captured response is redacted (the fixture carries credentials), so compare what
        // identifies it: the headers the function saw for this very event.
        let response = attribute_json(span, "lambda_lens.response.body");
        let listed: Value =
            serde_json::from_str(response["body"].as_str().expect("response body")).expect("JSON");
        assert_eq!(listed["headers"][MARKER], json!(call.marker));
        assert_eq!(
            listed["headers"]["traceparent"],
            json!(format!("00-{}-{}-01", call.trace_id, call.parent_id))
        );
        assert_eq!(span.attributes["lambda_lens.status"], json!("success"));
        trace_ids.insert(span.trace_id.clone());
    }
    // No span strays into another invocation's trace: each trace holds its invocation span and its
    // response phases (on the proxy's clock), and the first invocation also the environment's init.
    let mut shapes: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
    for trace_id in &trace_ids {
        let mut names: Vec<&str> = spans
            .iter()
            .filter(|s| &s.trace_id == trace_id)
            .map(|s| s.name.as_str())
            .collect();
        names.sort_unstable();
        *shapes.entry(names).or_default() += 1;
    }
    assert_eq!(
        shapes,
        BTreeMap::from([
            (
                vec!["GET /", "init", "responseDuration", "responseLatency"],
                1
            ),
            (
                vec!["GET /", "responseDuration", "responseLatency"],
                total - 1
            ),
        ])
    );
    assert_eq!(spans.len(), 3 * total + 1, "SHUTDOWN drained every span");

    // Exported in the background, batched: far fewer export requests than invocations.
    let requests = receiver.requests();
    assert!(
        requests.len() * 4 <= total,
        "{} export requests for {total} invocations",
        requests.len()
    );
}

/// With no invocation coming after a collector outage, what was queued still goes out once the
/// collector is back, without waiting for SHUTDOWN: a background flush that left items queued
/// schedules its own retry (at most one backoff step, `BACKOFF_CAP`, later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_queued_in_an_outage_go_out_once_the_collector_is_back_without_new_invocations() {
    /// Invocations made while the collector is down.
    const DURING_OUTAGE: usize = 4;
    /// Longer than the longest backoff step (`BACKOFF_CAP`, 5 s) plus a flush.
    const DRAIN_WAIT: Duration = Duration::from_secs(15);
    let receiver = Receiver::start(ReceiverConfig::default()).expect("OTLP receiver starts");
    let opt = build_layer(LAMBDA_LENS, "managed-instances-outage");
    let config = python_sandbox_config(&opt)
        .with_managed_instances(CALLERS)
        .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint());
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    receiver.set_mode(Mode::Down).await.expect("receiver down");
    let mut request_ids = BTreeSet::new();
    for n in 0..DURING_OUTAGE {
        let outcome = sandbox.invoke(Invocation::json(&json!({ "n": n }))).await;
        assert_eq!(outcome.status, Status::Success, "invocation {n}");
        request_ids.insert(outcome.request_id.to_string());
    }
    // Let the background flushes fail and the circuit open, then bring the collector back and
    // invoke nothing more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.spans().is_empty(), "nothing arrived while down");
    receiver
        .set_mode(Mode::Normal)
        .await
        .expect("receiver back");
    let invocation_spans = |spans: &[ReceivedSpan]| {
        spans
            .iter()
            .filter(|s| s.kind == SpanKind::Server)
            .filter_map(|s| s.attributes["faas.invocation_id"].as_str())
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
    };
    let spans = receiver
        .wait_for_spans(
            |spans: &[ReceivedSpan]| invocation_spans(spans) == request_ids,
            DRAIN_WAIT,
        )
        .await
        .expect("every invocation's span arrives before SHUTDOWN");
    assert_eq!(invocation_spans(&spans), request_ids);
    let shutdown = sandbox.shutdown(ShutdownReason::Spindown).await;
    std::fs::remove_dir_all(&opt).expect("layer removed");
    let exit = shutdown.process("lambda-lens").expect("lambda-lens ran");
    assert_eq!(exit.code, Some(0), "{exit:?}");
}
