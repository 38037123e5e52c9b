//! End to end with real function code: the Python runtime interface client, a wrapper-launched
//! runtime, environment filtering and streaming pass-through.

mod common;

use common::*;
use lambda_sandbox::{
    invoke_over_http, Invocation, LogFormat, Sandbox, ShutdownReason, Status, TraceMode,
};
use serde_json::json;

#[tokio::test]
async fn python_awslambdaric_success_and_error() {
    let env = Env::new("python");
    let listener = Listener::start().await;
    env.add_extension(
        "observer",
        &[(
            "FAKE_SUBSCRIBE",
            &listener.subscription("2022-07-01", &["platform", "function"], 25),
        )],
    );
    let sandbox = Sandbox::start(env.python_function_config())
        .await
        .expect("sandbox starts");
    let ok = sandbox
        .invoke(Invocation::json(&json!({"echo": true, "n": 1})).with_trace(TraceMode::Active))
        .await;
    assert_eq!(ok.status, Status::Success);
    assert_eq!(ok.body_json(), json!({"echo": true, "n": 1}));
    assert!(ok.function_error.is_none());

    let failed = sandbox
        .invoke(Invocation::json(&json!({"fail": "boom"})))
        .await;
    assert_eq!(failed.status, Status::Error);
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
    let body = failed.body_json();
    assert_eq!(
        (body["errorType"].as_str(), body["errorMessage"].as_str()),
        (Some("ValueError"), Some("boom"))
    );
    assert_eq!(body["requestId"], failed.request_id.as_str());

    // Over HTTP (the RIE endpoint), as `lambda-sandbox invoke` does.
    let url = sandbox.invoke_url().expect("invoke endpoint");
    let http = invoke_over_http(&url, bytes::Bytes::from_static(b"{\"echo\":true}"), None)
        .await
        .expect("HTTP invoke");
    assert_eq!(http.status, 200);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&http.body).expect("json"),
        json!({"echo": true})
    );
    let http_err = invoke_over_http(&url, bytes::Bytes::from_static(b"{\"fail\":\"x\"}"), None)
        .await
        .expect("HTTP invoke");
    assert_eq!(http_err.function_error(), Some("Unhandled"));

    // Function output reached the subscriber as strings (schema 2022-07-01).
    sandbox.shutdown(ShutdownReason::Spindown).await;
    let lines: Vec<String> = listener
        .events()
        .iter()
        .filter(|e| e["type"] == "function")
        .map(|e| e["record"].as_str().expect("string record").to_owned())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(r#"example-function: event {"echo": true, "n": 1}"#)),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn json_log_format_yields_object_records_for_new_schemas() {
    let env = Env::new("jsonlogs");
    let new_schema = Listener::start().await;
    let old_schema = Listener::start().await;
    env.add_extension(
        "new",
        &[(
            "FAKE_SUBSCRIBE",
            &new_schema.subscription("2022-12-13", &["function"], 25),
        )],
    );
    env.add_extension(
        "old",
        &[(
            "FAKE_SUBSCRIBE",
            &old_schema.subscription("2022-07-01", &["function"], 25),
        )],
    );
    let mut cfg = env.python_function_config();
    cfg.log_format = LogFormat::Json;
    let sandbox = Sandbox::start(cfg).await.expect("sandbox starts");
    let ok = sandbox
        .invoke(Invocation::json(&json!({"echo": true})))
        .await;
    sandbox.shutdown(ShutdownReason::Spindown).await;
    let record = new_schema
        .wait_for("a function object", |e| {
            e["record"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("example-function: event"))
        })
        .await;
    assert_eq!(record["type"], "function");
    assert_eq!(record["record"]["requestId"], ok.request_id.as_str());
    assert_eq!(record["record"]["level"], "INFO");
    assert!(record["record"]["timestamp"].is_string());
    // print() output is plain text even in JSON mode: a string for 2022-07-01, wrapped for newer schemas.
    let old = old_schema
        .wait_for("the same line as a string", |e| {
            e["record"]
                .as_str()
                .is_some_and(|m| m.contains("example-function: event"))
        })
        .await;
    assert_eq!(old["record"], record["record"]["message"]);
}

#[tokio::test]
async fn wrapper_launches_the_runtime_and_environments_are_filtered() {
    let env = Env::new("wrapper");
    let handoff = env.dir.join("handoff");
    let ext_log = env.add_extension("proxy", &[]);
    let cfg = env
        .fake_runtime_config()
        .with_env(
            "AWS_LAMBDA_EXEC_WRAPPER",
            workspace()
                .join("layer/lambda-lens-wrapper")
                .display()
                .to_string(),
        )
        .with_env("LAMBDA_LENS_HANDOFF_FILE", handoff.display().to_string())
        .with_env("FAKE_HANDOFF_FILE", handoff.display().to_string())
        .with_env("CUSTOMER_SETTING", "on");
    let sandbox = Sandbox::start(cfg).await.expect("sandbox starts");
    let api = sandbox.runtime_api_addr().to_string();
    let outcome = sandbox.invoke(Invocation::json(&json!({}))).await;
    assert_eq!(outcome.status, Status::Success);
    let rt_env = &outcome.body_json()["env"];
    // The wrapper ran (it records the original address) and exported the hand-off address.
    assert_eq!(rt_env["LAMBDA_LENS_ORIGINAL_RUNTIME_API"], api.as_str());
    assert_eq!(rt_env["AWS_LAMBDA_RUNTIME_API"], api.as_str());
    assert_eq!(rt_env["CUSTOMER_SETTING"], "on");
    assert_eq!(rt_env["_HANDLER"], "app.handler");
    assert_eq!(rt_env["LAMBDA_TASK_ROOT"], env.task().display().to_string());
    assert_eq!(rt_env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    assert_eq!(rt_env["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.12");
    assert_eq!(
        rt_env["AWS_LAMBDA_LOG_GROUP_NAME"],
        "/aws/lambda/test-function"
    );
    let instance = find_event(&sandbox.telemetry_emitted(), "platform.initStart")[0]["record"]
        ["instanceId"]
        .clone();
    assert_eq!(rt_env["AWS_LAMBDA_LOG_STREAM_NAME"], instance);

    let ext_env = env_of(&log_entries(&ext_log, "env")[0]);
    for hidden in [
        "_HANDLER",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "AWS_XRAY_DAEMON_ADDRESS",
        "AWS_XRAY_CONTEXT_MISSING",
        "_AWS_XRAY_DAEMON_ADDRESS",
    ] {
        assert!(
            !ext_env.contains_key(hidden),
            "extensions must not see {hidden}"
        );
    }
    assert!(ext_env.keys().all(|k| !k.starts_with('_')));
    assert_eq!(ext_env["AWS_LAMBDA_RUNTIME_API"], api);
    assert_eq!(ext_env["CUSTOMER_SETTING"], "on");
    assert_eq!(ext_env["AWS_LAMBDA_FUNCTION_NAME"], "test-function");
    assert_eq!(ext_env["AWS_REGION"], "us-east-1");
    sandbox.shutdown(ShutdownReason::Spindown).await;
}

#[tokio::test]
async fn streamed_responses_pass_through_with_trailers() {
    let env = Env::new("stream");
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    let event = json!({"action": "stream", "chunks": ["hello ", "streaming ", "world"], "error_type": "Runtime.StreamError", "error_body": "{\"oops\":1}"});
    let outcome = sandbox.invoke(Invocation::json(&event)).await;
    assert!(outcome.streamed);
    assert_eq!(outcome.status, Status::Success);
    assert_eq!(outcome.body_text(), "hello streaming world");
    assert_eq!(outcome.headers["content-type"], "application/octet-stream");
    let trailers = outcome.trailers.clone().expect("trailers");
    assert_eq!(
        trailers["lambda-runtime-function-error-type"],
        "Runtime.StreamError"
    );
    assert_eq!(
        trailers["lambda-runtime-function-error-body"],
        "eyJvb3BzIjoxfQ=="
    );
    assert_eq!(
        log_entries(&env.runtime_log(), "streamed")[0]["status"],
        202
    );
    let done =
        find_event(&sandbox.telemetry_emitted(), "platform.runtimeDone")[0]["record"].clone();
    assert_eq!(done["metrics"]["producedBytes"], 21);

    // Over HTTP the body arrives chunked and the trailers follow it.
    let url = sandbox.invoke_url().expect("invoke endpoint");
    let http = invoke_over_http(&url, bytes::Bytes::from(event.to_string()), None)
        .await
        .expect("HTTP invoke");
    assert_eq!(&http.body[..], b"hello streaming world");
    let trailers = http.trailers.expect("HTTP trailers");
    assert_eq!(
        trailers["lambda-runtime-function-error-type"],
        "Runtime.StreamError"
    );
    sandbox.shutdown(ShutdownReason::Spindown).await;
}
