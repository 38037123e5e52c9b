//! Timeouts, crashes, OOM kills, init errors, extension crashes, resets with `phase: "invoke"`, and
//! shutdown with its 2 s budget.

mod common;

use std::time::Duration;

use common::*;
use lambda_sandbox::{InitPhase, Invocation, LifecycleEvent, Sandbox, ShutdownReason, Status};
use serde_json::json;

fn init_phases(events: &[serde_json::Value]) -> Vec<String> {
    find_event(events, "platform.initStart")
        .iter()
        .map(|e| e["record"]["phase"].as_str().expect("phase").to_owned())
        .collect()
}

#[tokio::test]
async fn timeout_resets_the_environment_and_reinits_with_phase_invoke() {
    let env = Env::new("timeout");
    let log = env.add_extension("watcher", &[]);
    let config = env
        .fake_runtime_config()
        .with_timeout(Duration::from_millis(500));
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let first_id = sandbox.extensions()[0].id.clone();
    let outcome = sandbox
        .invoke(Invocation::json(&json!({"action": "sleep", "ms": 3000})))
        .await;
    assert_eq!(outcome.status, Status::Timeout);
    assert_eq!(outcome.error_type.as_deref(), Some("Sandbox.Timeout"));
    assert_eq!(outcome.function_error.as_deref(), Some("Unhandled"));
    let body = outcome.body_json();
    assert_eq!(body["errorType"], "Sandbox.Timeout");
    let message = body["errorMessage"].as_str().expect("message");
    assert!(
        message.ends_with(&format!(
            "{} Task timed out after 0.50 seconds",
            outcome.request_id
        )),
        "{message}"
    );
    assert!(
        outcome.duration < Duration::from_millis(2500),
        "{:?}",
        outcome.duration
    );

    let shutdown = log_entries(&log, "event")
        .into_iter()
        .find(|e| e["body"]["eventType"] == "SHUTDOWN")
        .expect("SHUTDOWN");
    assert_eq!(shutdown["body"]["shutdownReason"], "timeout");
    assert!(shutdown["body"]["deadlineMs"].as_u64().is_some());

    let events = sandbox.telemetry_emitted();
    let done = &find_event(&events, "platform.runtimeDone")[0]["record"];
    assert_eq!(
        (done["status"].as_str(), done["errorType"].as_str()),
        (Some("timeout"), Some("Sandbox.Timeout"))
    );
    let report = &find_event(&events, "platform.report")[0]["record"];
    assert_eq!(
        (report["status"].as_str(), report["errorType"].as_str()),
        (Some("timeout"), Some("Sandbox.Timeout"))
    );

    let next = sandbox.invoke(Invocation::json(&json!({}))).await;
    assert_eq!(next.status, Status::Success);
    let events = sandbox.telemetry_emitted();
    assert_eq!(init_phases(&events), ["init", "invoke"]);
    let reinit_report = find_event(&events, "platform.report")[1]["record"].clone();
    assert!(
        reinit_report["metrics"]["initDurationMs"]
            .as_f64()
            .is_some(),
        "re-init is a cold start"
    );
    let second_id = sandbox.extensions()[0].id.clone();
    assert_ne!(
        first_id, second_id,
        "a reset brings new extension processes and ids"
    );
    let register_count = log_entries(&log, "register").len();
    assert_eq!(register_count, 2);
    sandbox.shutdown(ShutdownReason::Spindown).await;
}

#[tokio::test]
async fn runtime_crash_is_runtime_exit_error_and_resets() {
    let env = Env::new("crash");
    env.add_extension("ext", &[]);
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    let outcome = sandbox
        .invoke(Invocation::json(&json!({"action": "exit", "code": 3})))
        .await;
    assert_eq!(outcome.status, Status::Error);
    assert_eq!(outcome.error_type.as_deref(), Some("Runtime.ExitError"));
    assert_eq!(
        outcome.body_json(),
        json!({"errorType": "Runtime.ExitError", "errorMessage": format!("RequestId: {} Error: Runtime exited with error: exit status 3", outcome.request_id)})
    );
    let exits = sandbox.process_exits();
    let runtime = exits
        .iter()
        .find(|p| p.name == "runtime")
        .expect("runtime exit");
    assert_eq!((runtime.code, runtime.sent_sigkill), (Some(3), false));
    let events = sandbox.telemetry_emitted();
    let done = &find_event(&events, "platform.runtimeDone")[0]["record"];
    assert_eq!(
        (done["status"].as_str(), done["errorType"].as_str()),
        (Some("error"), Some("Runtime.ExitError"))
    );
    assert_eq!(
        sandbox.invoke(Invocation::json(&json!({}))).await.status,
        Status::Success
    );
    assert_eq!(
        init_phases(&sandbox.telemetry_emitted()),
        ["init", "invoke"]
    );
    sandbox.shutdown(ShutdownReason::Spindown).await;
}

#[tokio::test]
async fn exceeding_the_memory_size_is_an_out_of_memory_kill() {
    let env = Env::new("oom");
    let sandbox = Sandbox::start(env.fake_runtime_config().with_memory_mb(64))
        .await
        .expect("sandbox starts");
    let outcome = sandbox
        .invoke(Invocation::json(&json!({"action": "alloc", "mb": 160})))
        .await;
    assert_eq!(outcome.status, Status::Error);
    assert_eq!(outcome.error_type.as_deref(), Some("Runtime.OutOfMemory"));
    let runtime = sandbox
        .process_exits()
        .into_iter()
        .find(|p| p.name == "runtime")
        .expect("runtime exit");
    assert_eq!((runtime.signal, runtime.sent_sigkill), (Some(9), true));
    let report = find_event(&sandbox.telemetry_emitted(), "platform.report")[0]["record"].clone();
    assert_eq!(report["errorType"], "Runtime.OutOfMemory");
    assert!(
        report["metrics"]["maxMemoryUsedMB"]
            .as_u64()
            .expect("max memory")
            >= 64
    );
    assert_eq!(
        sandbox.invoke(Invocation::json(&json!({}))).await.status,
        Status::Success
    );
    sandbox.shutdown(ShutdownReason::Spindown).await;
}

#[tokio::test]
async fn init_error_is_served_to_the_first_invoke() {
    let env = Env::new("initerr");
    let log = env.add_extension("ext", &[]);
    let config = env
        .fake_runtime_config()
        .with_env("FAKE_RT_INIT_ERROR", "1");
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let events = sandbox.telemetry_emitted();
    let report = &find_event(&events, "platform.initReport")[0]["record"];
    assert_eq!(
        (report["status"].as_str(), report["errorType"].as_str()),
        (Some("error"), Some("Runtime.ImportModuleError"))
    );
    let rt_done = &find_event(&events, "platform.initRuntimeDone")[0]["record"];
    assert_eq!(rt_done["status"], "error");
    let shutdown = log_entries(&log, "event")
        .into_iter()
        .last()
        .expect("event");
    assert_eq!(shutdown["body"]["shutdownReason"], "failure");

    let outcome = sandbox.invoke(Invocation::json(&json!({}))).await;
    assert_eq!(outcome.status, Status::Error);
    assert_eq!(outcome.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        outcome.body_json(),
        json!({"errorMessage": "Unable to import module 'app'", "errorType": "Runtime.ImportModuleError"})
    );
    // The next invoke re-runs init inside the invocation (and fails again: the module is still broken).
    let mut lifecycle = sandbox.subscribe_lifecycle();
    let again = sandbox.invoke(Invocation::json(&json!({}))).await;
    assert_eq!(
        again.error_type.as_deref(),
        Some("Runtime.ImportModuleError")
    );
    assert_eq!(
        lifecycle.recv().await.expect("event"),
        LifecycleEvent::InitStarted {
            phase: InitPhase::Invoke
        }
    );
}

#[tokio::test]
async fn extension_crash_during_invoke_resets() {
    let env = Env::new("extcrash");
    env.add_extension("fragile", &[("FAKE_CRASH", "invoke")]);
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    let outcome = sandbox
        .invoke(Invocation::json(&json!({"action": "sleep", "ms": 300})))
        .await;
    assert_eq!(outcome.status, Status::Error);
    assert_eq!(outcome.error_type.as_deref(), Some("Extension.Crash"));
    let crash = sandbox
        .process_exits()
        .into_iter()
        .find(|p| p.name == "fragile")
        .expect("extension exit");
    assert_eq!(crash.code, Some(3));
    let report = find_event(&sandbox.telemetry_emitted(), "platform.report")[0]["record"].clone();
    assert_eq!(report["errorType"], "Extension.Crash");
    sandbox.shutdown(ShutdownReason::Spindown).await;
}

#[tokio::test]
async fn extension_crash_during_init_fails_init() {
    let env = Env::new("extinit");
    env.add_extension("broken", &[("FAKE_CRASH", "init")]);
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    let report =
        find_event(&sandbox.telemetry_emitted(), "platform.initReport")[0]["record"].clone();
    assert_eq!(
        (report["status"].as_str(), report["errorType"].as_str()),
        (Some("error"), Some("Extension.Crash"))
    );
    let outcome = sandbox.invoke(Invocation::json(&json!({}))).await;
    assert_eq!(outcome.error_type.as_deref(), Some("Extension.Crash"));
}

#[tokio::test]
async fn shutdown_terminates_runtime_then_tells_extensions_within_the_budget() {
    let env = Env::new("shutdown");
    let polite = env.add_extension("polite", &[]);
    env.add_extension("stubborn", &[("FAKE_ON_SHUTDOWN", "hang")]);
    env.add_extension("invoke-only", &[("FAKE_EVENTS", "INVOKE")]);
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    sandbox.invoke(Invocation::json(&json!({}))).await;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let outcome = sandbox.shutdown(ShutdownReason::Spindown).await;
    let event = log_entries(&polite, "event")
        .into_iter()
        .last()
        .expect("event")["body"]
        .clone();
    assert_eq!(event["eventType"], "SHUTDOWN");
    assert_eq!(event["shutdownReason"], "spindown");
    let deadline = event["deadlineMs"].as_u64().expect("deadlineMs");
    assert!(
        deadline >= started + 1900 && deadline <= started + 2200,
        "deadline {deadline} vs start {started}"
    );

    let runtime = outcome.process("runtime").expect("runtime");
    assert!(
        runtime.sent_sigterm,
        "with extensions the runtime gets SIGTERM first"
    );
    let polite = outcome.process("polite").expect("polite");
    assert!(polite.exited_cleanly());
    assert!(polite.after_shutdown_began.expect("timed") < Duration::from_secs(2));
    let stubborn = outcome.process("stubborn").expect("stubborn");
    assert!(stubborn.sent_sigkill && stubborn.signal == Some(9));
    assert!(stubborn.after_shutdown_began.expect("timed") >= Duration::from_millis(1900));
    let invoke_only = outcome.process("invoke-only").expect("invoke-only");
    assert!(invoke_only.sent_sigkill);
    assert!(invoke_only.after_shutdown_began.expect("timed") < Duration::from_secs(1));
}

#[tokio::test]
async fn shutdown_without_extensions_kills_the_runtime_directly() {
    let env = Env::new("noext");
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    let outcome = sandbox.shutdown(ShutdownReason::Spindown).await;
    let runtime = outcome.process("runtime").expect("runtime");
    assert!(!runtime.sent_sigterm && runtime.sent_sigkill);
    // A fresh environment serves later invocations.
    assert_eq!(
        sandbox.invoke(Invocation::json(&json!({}))).await.status,
        Status::Success
    );
    assert_eq!(init_phases(&sandbox.telemetry_emitted()), ["init", "init"]);
}
