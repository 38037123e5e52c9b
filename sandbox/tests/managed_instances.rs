//! Lambda Managed Instances: the real `awslambdaric` forking one worker per concurrent request, 16
//! invocations at once, each answered to its own caller; SHUTDOWN-only extensions, the 2025-01-29
//! telemetry schema, no `platform.runtimeDone`, no freeze.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use lambda_sandbox::{Invocation, Sandbox, ShutdownReason, Status};
use serde_json::{json, Value};
use tokio::task::JoinSet;

/// Concurrent invocations in the test: the sandbox's (and AWS's per-vCPU default) ceiling.
const CONCURRENCY: u16 = lambda_sandbox::MAX_MANAGED_CONCURRENCY;
/// How long each invocation sleeps, so that all of them are in flight together.
const SLEEP_MS: u64 = 400;

/// Epoch ms of a telemetry `time` (`2024-01-01T00:00:00.123Z`).
fn epoch_ms(time: &Value) -> i64 {
    let t = time.as_str().expect("time is a string");
    let (date, clock) = t.trim_end_matches('Z').split_once('T').expect("ISO-8601");
    let d: Vec<i64> = date.split('-').map(|x| x.parse().expect("date")).collect();
    let (hms, ms) = clock.split_once('.').expect("milliseconds");
    let c: Vec<i64> = hms.split(':').map(|x| x.parse().expect("clock")).collect();
    // Days from the civil date (Howard Hinnant's algorithm), enough for comparing instants.
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * m + 2) / 5 + d[2];
    ((days * 24 + c[0]) * 60 + c[1]) * 60_000 + c[2] * 1000 + ms.parse::<i64>().expect("ms")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_invocations_run_at_once_on_awslambdaric_workers() {
    let env = Env::new("lmi");
    let listener = Listener::start().await;
    let log = env.add_extension(
        "observer",
        &[
            ("FAKE_EVENTS", "SHUTDOWN"),
            ("FAKE_PROBES", "managed"),
            (
                "FAKE_SUBSCRIBE",
                &listener.subscription("2025-01-29", &["platform", "function"], 25),
            ),
        ],
    );
    let sandbox = Arc::new(
        Sandbox::start(
            env.python_function_config()
                .with_managed_instances(CONCURRENCY),
        )
        .await
        .expect("sandbox starts"),
    );

    let mut calls = JoinSet::new();
    for i in 0..CONCURRENCY {
        let event = json!({"echo": true, "sleep_ms": SLEEP_MS, "caller": i});
        let sandbox = sandbox.clone();
        calls.spawn(async move {
            let outcome = sandbox.invoke(Invocation::json(&event)).await;
            (event, outcome)
        });
    }
    let outcomes = calls.join_all().await;
    let mut ids = BTreeMap::new();
    for (event, outcome) in &outcomes {
        assert_eq!(outcome.status, Status::Success, "{}", outcome.body_text());
        // Each caller gets its own event back: answers are routed by request id.
        assert_eq!(outcome.body_json(), *event);
        ids.insert(outcome.request_id.to_string(), event["caller"].clone());
    }
    assert_eq!(ids.len(), usize::from(CONCURRENCY));

    let shutdown = sandbox.shutdown(ShutdownReason::Spindown).await;
    assert_eq!(shutdown.process("observer").and_then(|p| p.code), Some(0));

    // The extension was told it runs on Managed Instances and what it may not do there.
    let ext_env = env_of(&log_entries(&log, "env")[0]);
    assert_eq!(
        ext_env
            .get("AWS_LAMBDA_INITIALIZATION_TYPE")
            .map(String::as_str),
        Some("lambda-managed-instances")
    );
    assert_eq!(
        ext_env
            .get("AWS_LAMBDA_MAX_CONCURRENCY")
            .map(String::as_str),
        Some("16")
    );
    let refused = &log_entries(&log, "register_probes")[0]["probes"];
    assert_probe(&refused["invoke"], 403, "Extension.InvalidEventType");
    let probes = &log_entries(&log, "probes")[0]["probes"];
    assert_probe(&probes["subscribe_schema"], 400, "ValidationError");
    assert_eq!(log_entries(&log, "register")[0]["status"], 200);
    assert_eq!(log_entries(&log, "subscribe")[0]["status"], 200);
    let events: Vec<Value> = log_entries(&log, "event")
        .iter()
        .map(|e| e["body"]["eventType"].clone())
        .collect();
    assert_eq!(events, [json!("SHUTDOWN")]);

    // The platform's view: no runtimeDone, one start and one report per invocation.
    let emitted = sandbox.telemetry_emitted();
    let types = platform_types(&emitted);
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!(count("platform.runtimeDone"), 0);
    assert_eq!(count("platform.start"), usize::from(CONCURRENCY));
    assert_eq!(count("platform.report"), usize::from(CONCURRENCY));
    let init_start = &find_event(&emitted, "platform.initStart")[0]["record"];
    assert_eq!(init_start["initializationType"], "lambda-managed-instances");
    let mut in_flight = Vec::new();
    for report in find_event(&emitted, "platform.report") {
        let record = &report["record"];
        assert_eq!(record["status"], "success");
        let metrics: Vec<&String> = record["metrics"]
            .as_object()
            .expect("metrics")
            .keys()
            .collect();
        assert_eq!(metrics, ["durationMs"]);
        let spans: Vec<&Value> = record["spans"]
            .as_array()
            .expect("spans")
            .iter()
            .map(|s| &s["name"])
            .collect();
        assert_eq!(
            spans,
            [&json!("responseLatency"), &json!("responseDuration")]
        );
        let id = record["requestId"].as_str().expect("requestId");
        assert!(
            ids.contains_key(id),
            "report for an unknown invocation {id}"
        );
        let start = find_event(&emitted, "platform.start")
            .into_iter()
            .find(|s| s["record"]["requestId"] == id)
            .expect("a start per report");
        in_flight.push((epoch_ms(&start["time"]), epoch_ms(&report["time"])));
    }
    // Every invocation started before any of them ended: all sixteen were in flight together.
    let last_start = in_flight.iter().map(|(s, _)| *s).max().expect("starts");
    let first_end = in_flight.iter().map(|(_, e)| *e).min().expect("ends");
    assert!(last_start <= first_end, "{in_flight:?}");

    // Delivered to the subscriber in the 2025-01-29 schema, reports included (never held by a freeze).
    let delivered = listener.events();
    let reports = delivered
        .iter()
        .filter(|e| e["type"] == "platform.report")
        .count();
    assert_eq!(reports, usize::from(CONCURRENCY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_timeouts_stay_with_their_invocation_and_the_environment_carries_on() {
    let env = Env::new("lmi-failures");
    let sandbox = Arc::new(
        Sandbox::start(
            env.python_function_config()
                .with_managed_instances(CONCURRENCY)
                .with_timeout(Duration::from_millis(1000)),
        )
        .await
        .expect("sandbox starts"),
    );
    let events = [
        json!({"echo": true, "caller": "ok"}),
        json!({"fail": "asked to fail"}),
        json!({"sleep_ms": 2500, "caller": "slow"}),
        json!({"echo": true, "sleep_ms": 200, "caller": "ok-too"}),
    ];
    let mut calls = JoinSet::new();
    for event in events.clone() {
        let sandbox = sandbox.clone();
        calls.spawn(async move {
            (
                event.clone(),
                sandbox.invoke(Invocation::json(&event)).await,
            )
        });
    }
    let outcomes: BTreeMap<String, _> = calls
        .join_all()
        .await
        .into_iter()
        .map(|(event, outcome)| (event.to_string(), outcome))
        .collect();
    let of = |i: usize| &outcomes[&events[i].to_string()];
    assert_eq!(of(0).status, Status::Success);
    assert_eq!(of(0).body_json(), events[0]);
    assert_eq!(of(1).status, Status::Error);
    assert_eq!(of(1).function_error.as_deref(), Some("Unhandled"));
    assert_eq!(of(1).body_json()["errorMessage"], "asked to fail");
    assert_eq!(of(2).status, Status::Timeout);
    assert_eq!(of(2).error_type.as_deref(), Some("Sandbox.Timeout"));
    assert_eq!(of(3).status, Status::Success);
    assert_eq!(of(3).body_json(), events[3]);

    // A timeout ends that invocation only: no reset, the next one runs in the same environment.
    let after = sandbox
        .invoke(Invocation::json(&json!({"echo": true, "caller": "after"})))
        .await;
    assert_eq!(after.status, Status::Success, "{}", after.body_text());
    let emitted = sandbox.telemetry_emitted();
    assert_eq!(find_event(&emitted, "platform.initStart").len(), 1);
    let statuses: BTreeMap<String, String> = find_event(&emitted, "platform.report")
        .iter()
        .map(|r| {
            (
                r["record"]["requestId"].as_str().expect("id").to_owned(),
                r["record"]["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect();
    assert_eq!(statuses[&of(1).request_id.to_string()], "error");
    assert_eq!(statuses[&of(2).request_id.to_string()], "timeout");
    assert_eq!(statuses.len(), 5);
}
