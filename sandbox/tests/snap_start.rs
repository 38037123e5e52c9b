//! SnapStart: the real `awslambdaric` calls `/runtime/restore/next` after its init, the environment
//! is snapshotted and restored under a fresh instance id, and a subscribed extension receives the
//! `platform.restore*` events before the first INVOKE, whose report carries `restoreDurationMs`; a
//! failing after-restore hook (`/runtime/restore/error`) fails the restore and the first invocation.

mod common;

use std::collections::BTreeMap;

use common::*;
use lambda_sandbox::{Invocation, LifecycleEvent, Sandbox, ShutdownReason, Status};
use serde_json::{json, Value};

/// The platform events the subscribed extension receives, in order, from init to the second report.
const EXPECTED_PLATFORM: [&str; 13] = [
    "platform.initStart",
    "platform.telemetrySubscription",
    "platform.initRuntimeDone",
    "platform.extension",
    "platform.initReport",
    "platform.restoreStart",
    "platform.restoreRuntimeDone",
    "platform.restoreReport",
    "platform.start",
    "platform.runtimeDone",
    "platform.report",
    "platform.start",
    "platform.runtimeDone",
];

/// Installs an `AWS_LAMBDA_EXEC_WRAPPER` that writes the runtime's environment to `runtime.env`.
fn env_dumping_wrapper(env: &Env) -> (String, std::path::PathBuf) {
    let dump = env.dir.join("runtime.env");
    let wrapper = env.dir.join("dump-env");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nenv > '{}'\nexec \"$@\"\n", dump.display()),
    )
    .expect("write wrapper");
    make_executable(&wrapper);
    (wrapper.display().to_string(), dump)
}

fn read_env_dump(path: &std::path::Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .expect("the wrapper ran")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn records<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == kind)
        .map(|e| &e["record"])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_events_reach_the_extension_before_the_first_invoke() {
    let env = Env::new("snap");
    let listener = Listener::start().await;
    let log = env.add_extension(
        "observer",
        &[(
            "FAKE_SUBSCRIBE",
            &listener.subscription("2022-12-13", &["platform"], 25),
        )],
    );
    let (wrapper, dump) = env_dumping_wrapper(&env);
    let config = env
        .python_function_config()
        .with_snap_start()
        .with_env("AWS_LAMBDA_EXEC_WRAPPER", wrapper);
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let mut lifecycle = sandbox.subscribe_lifecycle();
    let extension_id = sandbox.extensions()[0].id.clone();

    let first = sandbox
        .invoke(Invocation::json(&json!({"echo": true, "n": 1})))
        .await;
    let second = sandbox
        .invoke(Invocation::json(&json!({"echo": true, "n": 2})))
        .await;
    assert_eq!(first.status, Status::Success, "{}", first.body_text());
    assert_eq!(first.body_json(), json!({"echo": true, "n": 1}));
    assert_eq!(second.status, Status::Success, "{}", second.body_text());
    assert_eq!(second.body_json(), json!({"echo": true, "n": 2}));
    // The restore happened inside `start`: no second snapshot or restore later.
    while let Ok(event) = lifecycle.try_recv() {
        assert!(
            !matches!(
                event,
                LifecycleEvent::Snapshotted | LifecycleEvent::Restored { .. }
            ),
            "{event:?}"
        );
    }
    // The second report has left the sandbox once the next thaw (the shutdown) happened.
    sandbox.shutdown(ShutdownReason::Spindown).await;

    // Runtime and extension see the SnapStart type and no log group or stream.
    let runtime_env = read_env_dump(&dump);
    let ext_env = env_of(&log_entries(&log, "env")[0]);
    for vars in [&runtime_env, &ext_env] {
        assert_eq!(
            vars.get("AWS_LAMBDA_INITIALIZATION_TYPE")
                .map(String::as_str),
            Some("snap-start")
        );
        assert_eq!(vars.get("AWS_LAMBDA_LOG_GROUP_NAME"), None);
        assert_eq!(vars.get("AWS_LAMBDA_LOG_STREAM_NAME"), None);
        assert_eq!(vars.get("AWS_LAMBDA_MAX_CONCURRENCY"), None);
    }
    assert_eq!(
        runtime_env
            .get("AWS_LAMBDA_FUNCTION_NAME")
            .map(String::as_str),
        Some("test-function")
    );

    // One extension process, registered once, kept across the snapshot: its blocked `/next`
    // returned the first INVOKE after the restore.
    assert_eq!(log_entries(&log, "env").len(), 1);
    let register = log_entries(&log, "register");
    assert_eq!(register.len(), 1);
    assert_eq!(
        register[0]["headers"]["lambda-extension-identifier"],
        extension_id.as_str()
    );
    let events: Vec<(Value, Value)> = log_entries(&log, "event")
        .iter()
        .map(|e| {
            (
                e["body"]["eventType"].clone(),
                e["body"]["requestId"].clone(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            (json!("INVOKE"), json!(first.request_id.as_str())),
            (json!("INVOKE"), json!(second.request_id.as_str())),
            (json!("SHUTDOWN"), Value::Null),
        ]
    );

    let received = listener.events();
    let platform = platform_types(&received);
    assert_eq!(platform[..EXPECTED_PLATFORM.len()], EXPECTED_PLATFORM);
    assert_eq!(platform[EXPECTED_PLATFORM.len()..], ["platform.report"]);

    let init_start = records(&received, "platform.initStart")[0];
    assert_eq!(init_start["initializationType"], "snap-start");
    assert_eq!(init_start["phase"], "init");
    for kind in ["platform.initRuntimeDone", "platform.initReport"] {
        let record = records(&received, kind)[0];
        assert_eq!(record["initializationType"], "snap-start", "{kind}");
        assert_eq!(record["phase"], "init", "{kind}");
        assert_eq!(record["status"], "success", "{kind}");
    }

    let restore_start = records(&received, "platform.restoreStart")[0];
    let keys: Vec<&String> = restore_start
        .as_object()
        .expect("record is an object")
        .keys()
        .collect();
    assert_eq!(
        keys,
        [
            "functionName",
            "functionVersion",
            "instanceId",
            "instanceMaxMemory",
            "runtimeVersion",
            "runtimeVersionArn"
        ]
    );
    assert_eq!(restore_start["functionName"], "test-function");
    assert_eq!(restore_start["functionVersion"], "$LATEST");
    assert_eq!(restore_start["instanceMaxMemory"], 128 * 1024 * 1024);
    assert_eq!(
        restore_start["runtimeVersion"],
        init_start["runtimeVersion"]
    );
    assert_eq!(
        restore_start["runtimeVersionArn"],
        init_start["runtimeVersionArn"]
    );
    let restored_instance = restore_start["instanceId"].as_str().expect("instance id");
    assert!(
        restored_instance.contains("[$LATEST]"),
        "{restored_instance}"
    );
    assert_ne!(restore_start["instanceId"], init_start["instanceId"]);

    let runtime_done = records(&received, "platform.restoreRuntimeDone")[0];
    assert_eq!(*runtime_done, json!({"status": "success"}));
    let restore_report = records(&received, "platform.restoreReport")[0];
    assert_eq!(restore_report["status"], "success");
    let restore_ms = restore_report["metrics"]["durationMs"]
        .as_f64()
        .expect("restore duration");
    assert!(restore_ms >= 0.0, "{restore_ms}");

    // The first report carries the restore, not the init; the second neither.
    let reports = records(&received, "platform.report");
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["requestId"], first.request_id.as_str());
    assert_eq!(reports[0]["metrics"]["restoreDurationMs"], restore_ms);
    assert_eq!(reports[0]["metrics"].get("initDurationMs"), None);
    assert_eq!(reports[1]["requestId"], second.request_id.as_str());
    assert_eq!(reports[1]["metrics"].get("restoreDurationMs"), None);
    assert_eq!(reports[1]["metrics"].get("initDurationMs"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_restore_next_is_refused_outside_snap_start() {
    let env = Env::new("snap-refused");
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    let reply = request(
        sandbox.runtime_api_addr(),
        "GET",
        "/2018-06-01/runtime/restore/next",
        &[],
        "",
    )
    .await;
    assert_error(&reply, 403, "InvalidStateTransition");
    let reply = request(
        sandbox.runtime_api_addr(),
        "POST",
        "/2018-06-01/runtime/restore/error",
        &[(
            "Lambda-Runtime-Function-Error-Type",
            "Runtime.AfterRestoreError",
        )],
        "{}",
    )
    .await;
    assert_error(&reply, 403, "InvalidStateTransition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_after_restore_hook_fails_the_restore_and_the_first_invocation() {
    let env = Env::new("snap-hook");
    std::fs::write(
        env.task().join("app.py"),
        "from snapshot_restore_py import register_after_restore\n\
         \n\
         def reconnect():\n    raise RuntimeError('the pool cannot reconnect')\n\
         \n\
         register_after_restore(reconnect)\n\
         \n\
         def handler(event, context):\n    return event\n",
    )
    .expect("write the function");
    let mut config = env.python_function_config().with_snap_start();
    config.task_root = env.task();
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");

    let outcome = sandbox.invoke(Invocation::json(&json!({"n": 1}))).await;
    assert_eq!(outcome.status, Status::Error, "{}", outcome.body_text());
    assert_eq!(
        outcome.error_type.as_deref(),
        Some("Runtime.AfterRestoreError")
    );
    assert_eq!(
        outcome.body_json()["errorType"],
        "Runtime.AfterRestoreError"
    );

    let emitted = sandbox.telemetry_emitted();
    let types = platform_types(&emitted);
    assert_eq!(
        types[..6],
        [
            "platform.initStart",
            "platform.initRuntimeDone",
            "platform.initReport",
            "platform.restoreStart",
            "platform.restoreRuntimeDone",
            "platform.restoreReport",
        ]
    );
    let failed = json!({"status": "error", "errorType": "Runtime.AfterRestoreError"});
    assert_eq!(*records(&emitted, "platform.restoreRuntimeDone")[0], failed);
    let report = records(&emitted, "platform.restoreReport")[0];
    assert_eq!(report["status"], failed["status"]);
    assert_eq!(report["errorType"], failed["errorType"]);
    assert!(report["metrics"]["durationMs"].is_f64(), "{report}");
    // No invocation ran in the failed environment.
    assert!(!types.iter().any(|t| t == "platform.start"), "{types:?}");
}
