//! Init ordering, invoke telemetry, the freeze model and the extension-next hook.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use lambda_sandbox::{
    FreezeMode, Invocation, LifecycleEvent, Sandbox, ShutdownReason, Status, TraceMode,
};
use serde_json::json;

#[tokio::test]
async fn init_and_invoke_emit_platform_events_in_order_with_metrics() {
    let env = Env::new("order");
    let listener = Listener::start().await;
    env.add_extension(
        "observer",
        &[(
            "FAKE_SUBSCRIBE",
            &listener.subscription("2022-12-13", &["platform"], 25),
        )],
    );
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    let first = sandbox
        .invoke(Invocation::json(&json!({"action": "echo"})).with_trace(TraceMode::Active))
        .await;
    assert_eq!(first.status, Status::Success);
    let second = sandbox
        .invoke(Invocation::json(&json!({"action": "echo"})))
        .await;
    assert_eq!(second.status, Status::Success);
    let events = sandbox.telemetry_emitted();
    assert_eq!(
        platform_types(&events),
        [
            "platform.initStart",
            "platform.telemetrySubscription",
            "platform.initRuntimeDone",
            "platform.extension",
            "platform.initReport",
            "platform.start",
            "platform.runtimeDone",
            "platform.report",
            "platform.start",
            "platform.runtimeDone",
            "platform.report",
        ]
    );
    let init_start = &find_event(&events, "platform.initStart")[0]["record"];
    assert_eq!(init_start["initializationType"], "on-demand");
    assert_eq!(init_start["phase"], "init");
    assert_eq!(init_start["functionName"], "test-function");
    assert_eq!(init_start["functionVersion"], "$LATEST");
    assert_eq!(init_start["instanceMaxMemory"], 128 * 1024 * 1024);
    assert_eq!(init_start["runtimeVersion"], "python:3.12.v40");
    let subscription = &find_event(&events, "platform.telemetrySubscription")[0]["record"];
    assert_eq!(
        subscription,
        &json!({"name": "observer", "state": "Subscribed", "types": ["platform"]})
    );
    let extension = &find_event(&events, "platform.extension")[0]["record"];
    assert_eq!(
        extension,
        &json!({"name": "observer", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]})
    );
    let init_report = &find_event(&events, "platform.initReport")[0]["record"];
    assert_eq!(init_report["status"], "success");
    assert!(
        init_report["metrics"]["durationMs"]
            .as_f64()
            .expect("durationMs")
            > 0.0
    );

    let starts = find_event(&events, "platform.start");
    assert_eq!(starts[0]["record"]["requestId"], first.request_id.as_str());
    assert_eq!(starts[0]["record"]["version"], "$LATEST");
    assert_eq!(starts[0]["record"]["tracing"]["type"], "X-Amzn-Trace-Id");
    assert!(starts[0]["record"]["tracing"]["value"]
        .as_str()
        .expect("trace")
        .ends_with(";Sampled=1"));
    assert!(
        starts[1]["record"].get("tracing").is_none(),
        "no trace header, no tracing"
    );

    let done = &find_event(&events, "platform.runtimeDone")[0]["record"];
    assert_eq!(done["status"], "success");
    assert_eq!(done["metrics"]["producedBytes"], first.body.len());
    let spans: Vec<&str> = done["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        spans,
        ["responseLatency", "responseDuration", "runtimeOverhead"]
    );

    let reports = find_event(&events, "platform.report");
    let metrics = &reports[0]["record"]["metrics"];
    let duration = metrics["durationMs"].as_f64().expect("durationMs");
    assert_eq!(metrics["billedDurationMs"], duration.ceil() as u64);
    assert_eq!(metrics["memorySizeMB"], 128);
    assert!(
        metrics["maxMemoryUsedMB"]
            .as_u64()
            .expect("maxMemoryUsedMB")
            > 0
    );
    assert!(
        metrics["initDurationMs"].as_f64().is_some(),
        "cold start carries initDurationMs"
    );
    assert!(
        reports[1]["record"]["metrics"]
            .get("initDurationMs")
            .is_none(),
        "warm invoke has no initDurationMs"
    );
    assert_eq!(
        reports[0]["record"]["spans"][0]["name"],
        "extensionOverhead"
    );
    sandbox.shutdown(ShutdownReason::Spindown).await;
}

#[tokio::test]
async fn report_is_held_while_frozen_and_delivered_at_the_next_thaw() {
    let env = Env::new("freeze");
    let listener = Listener::start().await;
    // The extension works for 200 ms after INVOKE, so runtimeDone's 25 ms batch leaves before the freeze.
    let subscription = listener.subscription("2022-12-13", &["platform"], 25);
    env.add_extension(
        "observer",
        &[("FAKE_SUBSCRIBE", &subscription), ("FAKE_WORK_MS", "200")],
    );
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    let first = sandbox.invoke(Invocation::json(&json!({}))).await;
    let id1 = first.request_id.to_string();
    listener
        .wait_for("runtimeDone of invoke 1", |e| {
            e["type"] == "platform.runtimeDone" && e["record"]["requestId"] == id1
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !listener
            .events()
            .iter()
            .any(|e| e["type"] == "platform.report"),
        "platform.report must not be delivered while frozen"
    );
    let second = sandbox.invoke(Invocation::json(&json!({}))).await;
    listener
        .wait_for("report of invoke 1", |e| {
            e["type"] == "platform.report" && e["record"]["requestId"] == id1
        })
        .await;
    let id2 = second.request_id.to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!listener
        .events()
        .iter()
        .any(|e| e["type"] == "platform.report" && e["record"]["requestId"] == id2));
    sandbox.shutdown(ShutdownReason::Spindown).await;
    listener
        .wait_for("report of invoke 2 at shutdown", |e| {
            e["type"] == "platform.report" && e["record"]["requestId"] == id2
        })
        .await;
}

#[tokio::test]
async fn hook_runs_while_the_extension_next_call_is_held() {
    let env = Env::new("hook");
    env.add_extension("slow", &[]);
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    let mut lifecycle = sandbox.subscribe_lifecycle();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    sandbox.set_extension_next_hook(move |call| {
        let seen = seen.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            seen.lock().expect("lock").push(call);
        }
    });
    let outcome = sandbox.invoke(Invocation::json(&json!({}))).await;
    assert!(
        outcome.duration >= Duration::from_millis(200),
        "the invoke waits for the hook: {:?}",
        outcome.duration
    );
    let calls = calls.lock().expect("lock").clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].name, "slow");
    assert_eq!(calls[0].request_id, outcome.request_id);
    let mut order = Vec::new();
    while let Ok(e) = lifecycle.try_recv() {
        order.push(e);
    }
    let pos = |pred: &dyn Fn(&LifecycleEvent) -> bool| {
        order.iter().position(pred).expect("event present")
    };
    assert!(
        pos(&|e| matches!(e, LifecycleEvent::ExtensionNext { .. }))
            < pos(&|e| matches!(e, LifecycleEvent::Frozen { .. }))
    );
    sandbox.shutdown(ShutdownReason::Spindown).await;
}

#[tokio::test]
async fn signals_freeze_stops_the_runtime_between_invocations() {
    let env = Env::new("sigstop");
    env.add_extension("ext", &[]);
    let sandbox = Sandbox::start(env.fake_runtime_config().with_freeze(FreezeMode::Signals))
        .await
        .expect("sandbox starts");
    let outcome = sandbox.invoke(Invocation::json(&json!({}))).await;
    let pid = outcome.body_json()["pid"].as_u64().expect("runtime pid");
    let state = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("runtime alive");
        stat[stat.rfind(')').expect("comm") + 2..]
            .chars()
            .next()
            .expect("state")
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(state(), 'T', "runtime is stopped while frozen");
    let again = sandbox.invoke(Invocation::json(&json!({}))).await;
    assert_eq!(again.status, Status::Success);
    assert_eq!(again.body_json()["pid"], pid);
    sandbox.shutdown(ShutdownReason::Spindown).await;
}
