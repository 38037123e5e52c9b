//! lambda-lens installed as a layer in the local Lambda sandbox: the real extension binary, the real
//! wrapper (via `AWS_LAMBDA_EXEC_WRAPPER`) and the Python example function under `awslambdaric`, with
//! the sandbox freezing processes between invocations.

use lambda_sandbox::{ExtensionId, Invocation, Sandbox, ShutdownReason, Status};
use serde_json::json;
use trace_view::{Receiver, ReceiverConfig};

use lambda_lens_test_support::layer::build_layer;
use lambda_lens_test_support::repo::repo_root;
use lambda_lens_test_support::sandbox::{
    extension_lines, finished_records_for, python_sandbox_config, records_for,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_function_runs_through_lambda_lens_in_the_sandbox() {
    let opt = build_layer(env!("CARGO_BIN_EXE_lambda-lens"), "e2e");
    let sandbox = Sandbox::start(
        python_sandbox_config(&opt).with_env("LAMBDA_LENS_LOG", "info,lambda_lens::record=debug"),
    )
    .await
    .expect("sandbox starts");

    let ok = sandbox
        .invoke(Invocation::json(&json!({"name": "sandbox"})))
        .await;
    assert_eq!(ok.status, Status::Success, "{}", ok.body_text());
    let body = ok.body_json();
    assert_eq!(body["requestId"], ok.request_id.to_string());
    assert_eq!(body["keys"], json!(["name"]));

    let failed = sandbox
        .invoke(Invocation::json(&json!({"fail": "asked to fail"})))
        .await;
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(failed.body_json()["errorType"], "ValueError");
    assert_eq!(failed.body_json()["errorMessage"], "asked to fail");

    let shutdown = sandbox.shutdown(ShutdownReason::Spindown).await;
    let lens = shutdown
        .process("lambda-lens")
        .expect("lambda-lens ran as an extension");
    assert_eq!(lens.code, Some(0), "{lens:?}");

    // The runtime went through the proxy: lambda-lens recorded both invocations, with their bodies,
    // and the runtime's next /next that ended each.
    let ok_records = finished_records_for(&sandbox, &ok.request_id.to_string());
    let result_end = ok_records[1]["body"]["ended_at"]
        .as_f64()
        .expect("result end");
    let next_at = ok_records[2]["at"].as_f64().expect("next time");
    assert!(next_at >= result_end, "{ok_records:#?}");
    assert_eq!(ok_records[0]["event"]["head"], r#"{"name":"sandbox"}"#);
    assert_eq!(ok_records[1]["kind"], "response");
    assert_eq!(ok_records[1]["upstream_status"], 202);
    let failed_records = records_for(&sandbox, &failed.request_id.to_string());
    assert_eq!(failed_records[1]["kind"], "error");
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_export_disabled_lambda_lens_is_a_plain_relay() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("OTLP receiver starts");
    let opt = build_layer(env!("CARGO_BIN_EXE_lambda-lens"), "e2e-disabled");
    let sandbox = Sandbox::start(
        python_sandbox_config(&opt)
            .with_env("OTEL_SDK_DISABLED", "true")
            .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint())
            .with_env("LAMBDA_LENS_INJECT_TRACEPARENT", "true")
            .with_env("LAMBDA_LENS_RESPONSE_HEADERS", "true"),
    )
    .await
    .expect("sandbox starts");

    // The runtime goes through the proxy, whose transforms still work. The caller's traceparent
    // reaches the function as it was (theirs wins), and the answer names the invocation under the
    // caller's context, read from the event as it passed.
    let mut event: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("tests/fixtures/events/apigw-rest.json"))
            .expect("API Gateway fixture"),
    )
    .expect("fixture is JSON");
    event["headers"]["traceparent"] =
        json!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    let http = sandbox
        .invoke(Invocation::json(&event).with_trace_header(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        ))
        .await;
    assert_eq!(http.status, Status::Success, "{}", http.body_text());
    let response = http.body_json();
    let seen: serde_json::Value =
        serde_json::from_str(response["body"].as_str().expect("body string")).expect("JSON body");
    assert_eq!(
        seen["headers"]["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    let traceparent = response["headers"]["traceparent"]
        .as_str()
        .expect("a traceparent was added to the answer");
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[..2], ["00", "4bf92f3577b34da6a3ce929d0e0e4736"]);
    assert_ne!(
        parts[2], "00f067aa0ba902b7",
        "the invocation is a child of the caller"
    );
    assert!(
        parts[2].len() == 16 && parts[2].bytes().all(|b| b.is_ascii_hexdigit()),
        "{traceparent}"
    );
    assert_eq!(parts[3], "01", "{traceparent}");

    let mut request_ids = Vec::new();
    for n in 0..3 {
        let ok = sandbox
            .invoke(Invocation::json(&json!({ "name": "relay", "n": n })))
            .await;
        assert_eq!(ok.status, Status::Success, "{}", ok.body_text());
        assert_eq!(ok.body_json()["requestId"], ok.request_id.to_string());
        assert_eq!(ok.body_json()["keys"], json!(["n", "name"]));
        request_ids.push(ok.request_id.to_string());
    }
    let failed = sandbox
        .invoke(Invocation::json(&json!({"fail": "asked to fail"})))
        .await;
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(failed.body_json()["errorMessage"], "asked to fail");

    // lambda-lens registered, but nothing reads the platform's view: no Telemetry API subscription.
    let lens: Vec<_> = sandbox
        .extensions()
        .into_iter()
        .filter(|e| e.name == "lambda-lens")
        .collect();
    assert_eq!(lens.len(), 1, "{lens:?}");
    assert_eq!(sandbox.telemetry_subscribers(), Vec::<ExtensionId>::new());

    let shutdown = sandbox.shutdown(ShutdownReason::Spindown).await;
    let exit = shutdown.process("lambda-lens").expect("lambda-lens ran");
    assert_eq!(exit.code, Some(0), "{exit:?}");
    let lines = extension_lines(&sandbox);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("export is disabled: no Telemetry API subscription"))
            .count(),
        1,
        "{lines:#?}"
    );
    assert_eq!(receiver.requests().len(), 0, "nothing is exported");
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_export_disabled_the_record_log_still_gets_every_record() {
    let opt = build_layer(env!("CARGO_BIN_EXE_lambda-lens"), "e2e-disabled-records");
    let sandbox = Sandbox::start(
        python_sandbox_config(&opt)
            .with_env("OTEL_SDK_DISABLED", "true")
            .with_env("LAMBDA_LENS_LOG", "info,lambda_lens::record=debug"),
    )
    .await
    .expect("sandbox starts");
    let ok = sandbox
        .invoke(Invocation::json(&json!({"name": "logged"})))
        .await;
    assert_eq!(ok.status, Status::Success, "{}", ok.body_text());
    assert_eq!(sandbox.telemetry_subscribers().len(), 1);
    sandbox.shutdown(ShutdownReason::Spindown).await;

    let records = finished_records_for(&sandbox, &ok.request_id.to_string());
    assert_eq!(records[0]["event"]["head"], r#"{"name":"logged"}"#);
    let lines = extension_lines(&sandbox);
    assert!(
        lines
            .iter()
            .any(|l| l
                .contains("export is disabled; invocations are still recorded for the record log")),
        "{lines:#?}"
    );
    std::fs::remove_dir_all(&opt).expect("layer removed");
}
