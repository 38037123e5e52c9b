//! Telemetry delivery: golden shapes against the AWS docs' samples, batching limits, type filtering,
//! init-event replay, destination paths, retries and `platform.logsDropped`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use lambda_sandbox::{Invocation, Sandbox, ShutdownReason, TraceMode};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture exists"))
        .expect("fixture is JSON")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every key `actual` has must exist in `golden` with the same JSON type (recursively).
fn assert_shape(path: &str, golden: &Value, actual: &Value) {
    assert_eq!(
        kind(golden),
        kind(actual),
        "{path}: golden {golden} vs emitted {actual}"
    );
    match actual {
        Value::Object(map) => {
            for (k, v) in map {
                let g = golden
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}.{k} is not in the golden sample {golden}"));
                assert_shape(&format!("{path}.{k}"), g, v);
            }
        }
        Value::Array(items) => {
            let g = golden.get(0).expect("golden arrays have a sample element");
            for (i, item) in items.iter().enumerate() {
                assert_shape(&format!("{path}[{i}]"), g, item);
            }
        }
        _ => {}
    }
}

/// Shape check plus the keys the docs make mandatory.
fn assert_matches_golden(name: &str, actual: &Value, required: &[&str]) {
    let golden = fixture(name);
    assert_shape(name, &golden, actual);
    for key in required {
        assert!(
            actual.pointer(key).is_some(),
            "{name}: {key} is required, emitted {actual}"
        );
    }
}

#[tokio::test]
async fn emitted_events_match_the_documented_samples() {
    let env = Env::new("golden");
    let listener = Listener::start().await;
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dead = json!({"schemaVersion": "2022-12-13", "types": ["platform"], "buffering": {"timeoutMs": 25},
        "destination": {"protocol": "HTTP", "URI": format!("http://sandbox:{dead_port}")}});
    let log = env.add_extension(
        "observer",
        &[
            (
                "FAKE_SUBSCRIBE",
                &listener.subscription("2022-07-01", &["platform", "function", "extension"], 25),
            ),
            ("FAKE_ACCOUNT", "1"),
        ],
    );
    env.add_extension("deaf", &[("FAKE_SUBSCRIBE", &dead.to_string())]);
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    // Retries (100, 200, 400 ms) run while the environment is not frozen, i.e. before the first invoke.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sandbox
        .telemetry_emitted()
        .iter()
        .any(|e| e["type"] == "platform.logsDropped")
    {
        assert!(
            Instant::now() < deadline,
            "no platform.logsDropped for the dead listener"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sandbox
        .invoke(Invocation::json(&json!({})).with_trace(TraceMode::Active))
        .await;
    sandbox
        .invoke(Invocation::json(&json!({"action": "error"})).with_trace(TraceMode::Active))
        .await;
    sandbox.shutdown(ShutdownReason::Spindown).await;

    let delivered = listener.events();
    let required: &[(&str, &[&str])] = &[
        (
            "platform.initStart",
            &[
                "/record/initializationType",
                "/record/phase",
                "/record/functionName",
                "/record/functionVersion",
            ],
        ),
        (
            "platform.initRuntimeDone",
            &[
                "/record/initializationType",
                "/record/phase",
                "/record/status",
            ],
        ),
        (
            "platform.initReport",
            &[
                "/record/initializationType",
                "/record/phase",
                "/record/status",
                "/record/metrics/durationMs",
            ],
        ),
        (
            "platform.start",
            &[
                "/record/requestId",
                "/record/version",
                "/record/tracing/value",
            ],
        ),
        (
            "platform.runtimeDone",
            &[
                "/record/requestId",
                "/record/status",
                "/record/metrics/durationMs",
                "/record/spans/2",
            ],
        ),
        (
            "platform.report",
            &[
                "/record/requestId",
                "/record/status",
                "/record/metrics/billedDurationMs",
                "/record/metrics/maxMemoryUsedMB",
            ],
        ),
        (
            "platform.extension",
            &["/record/name", "/record/state", "/record/events"],
        ),
        (
            "platform.telemetrySubscription",
            &["/record/name", "/record/state", "/record/types"],
        ),
        (
            "platform.logsDropped",
            &[
                "/record/droppedBytes",
                "/record/droppedRecords",
                "/record/reason",
            ],
        ),
        ("function", &["/record"]),
        ("extension", &["/record"]),
    ];
    for (kind, keys) in required {
        let emitted = find_event(&delivered, kind);
        assert!(!emitted.is_empty(), "the listener never received {kind}");
        for event in emitted {
            assert_matches_golden(kind, event, keys);
            let time = event["time"].as_str().expect("time");
            assert!(
                time.len() == 24 && time.ends_with('Z') && &time[19..20] == ".",
                "time format: {time}"
            );
        }
    }
    let dropped = &find_event(&delivered, "platform.logsDropped")[0]["record"];
    assert_eq!(
        dropped["reason"],
        fixture("platform.logsDropped")["record"]["reason"]
    );
    let errored = find_event(&delivered, "platform.runtimeDone")[1]["record"].clone();
    assert_eq!(errored["errorType"], "Function.TestError");

    let register = &log_entries(&log, "register")[0]["body"];
    assert_matches_golden(
        "register-response",
        register,
        &[
            "/functionName",
            "/functionVersion",
            "/handler",
            "/accountId",
        ],
    );
    let events = log_entries(&log, "event");
    assert_matches_golden(
        "event-invoke",
        &events[0]["body"],
        &[
            "/eventType",
            "/deadlineMs",
            "/requestId",
            "/invokedFunctionArn",
            "/tracing/type",
        ],
    );
    let shutdown = &events.last().expect("SHUTDOWN")["body"];
    assert_matches_golden(
        "event-shutdown",
        shutdown,
        &["/eventType", "/shutdownReason", "/deadlineMs"],
    );
}

#[tokio::test]
async fn batches_respect_max_items_max_bytes_types_and_path() {
    let env = Env::new("batching");
    let by_bytes = Listener::start().await;
    let by_items = Listener::start().await;
    let platform_only = Listener::start().await;
    let bytes_sub = json!({"schemaVersion": "2022-07-01", "types": ["function"],
        "buffering": {"maxItems": 10000, "maxBytes": 262144, "timeoutMs": 30000},
        "destination": {"protocol": "HTTP", "URI": format!("http://sandbox.localdomain:{}/bytes", by_bytes.port)}});
    let items_sub = json!({"schemaVersion": "2022-07-01", "types": ["function"],
        "buffering": {"maxItems": 1000, "maxBytes": 1048576, "timeoutMs": 30000},
        "destination": {"protocol": "HTTP", "URI": format!("http://sandbox.localdomain:{}/items?q=1", by_items.port)}});
    env.add_extension("bytes", &[("FAKE_SUBSCRIBE", &bytes_sub.to_string())]);
    env.add_extension("items", &[("FAKE_SUBSCRIBE", &items_sub.to_string())]);
    env.add_extension(
        "platform",
        &[(
            "FAKE_SUBSCRIBE",
            &platform_only.subscription("2022-12-13", &["platform"], 25),
        )],
    );
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    sandbox
        .invoke(Invocation::json(
            &json!({"action": "print", "lines": 1200, "width": 300}),
        ))
        .await;
    // With a 30 s timeout only the size limits can have cut a batch by now (one may still be in flight).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before_shutdown = Instant::now();
    assert!(
        !by_bytes.batches.lock().expect("lock").is_empty(),
        "maxBytes cuts a batch without waiting for timeoutMs"
    );
    assert!(
        !by_items.batches.lock().expect("lock").is_empty(),
        "maxItems cuts a batch without waiting for timeoutMs"
    );
    sandbox.shutdown(ShutdownReason::Spindown).await;

    let printed = |l: &Listener| -> Vec<String> {
        l.events()
            .iter()
            .filter_map(|e| e["record"].as_str())
            .filter(|r| r.len() == 307)
            .map(|r| r[..6].to_owned())
            .collect()
    };
    let expected: Vec<String> = (0..1200).map(|i| format!("{i:06}")).collect();
    assert_eq!(printed(&by_bytes), expected, "every line, in order");
    assert_eq!(printed(&by_items), expected, "every line, in order");

    let batches = by_bytes.batches.lock().expect("lock").clone();
    assert!(batches.len() >= 2, "{} batches", batches.len());
    assert!(batches[0].at < before_shutdown);
    assert!(
        batches.last().expect("batch").at > before_shutdown,
        "the remainder waits for the timeout or the shutdown flush"
    );
    for b in &batches {
        // A batch closes once it reaches maxBytes, so it exceeds it by less than one record.
        assert!(b.bytes < 262_144 + 400, "batch of {} bytes", b.bytes);
        assert_eq!(b.path, "/bytes");
    }
    assert!(batches[0].bytes >= 262_144 - 400);
    let batches = by_items.batches.lock().expect("lock").clone();
    assert_eq!(batches[0].events.len(), 1000);
    assert!(batches
        .iter()
        .all(|b| b.events.len() <= 1000 && b.path == "/items"));

    // Type filtering: the platform-only subscriber sees no log lines, and gets the init events replayed.
    let platform_events = platform_only.events();
    assert!(platform_events
        .iter()
        .all(|e| e["type"].as_str().expect("type").starts_with("platform.")));
    assert_eq!(
        platform_events[0]["type"], "platform.initStart",
        "initStart is replayed to later subscribers"
    );
}
