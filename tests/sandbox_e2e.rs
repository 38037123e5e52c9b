//! lambda-lens installed as a layer in the local Lambda sandbox: the real extension binary, the real
//! wrapper (via `AWS_LAMBDA_EXEC_WRAPPER`) and the Python example function under `awslambdaric`, with
//! the sandbox freezing processes between invocations.

use lambda_sandbox::{Invocation, Sandbox, ShutdownReason, Status};
use serde_json::json;

use lambda_lens_test_support::layer::build_layer;
use lambda_lens_test_support::sandbox::{python_sandbox_config, records_for};

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
    let ok_records = records_for(&sandbox, &ok.request_id.to_string());
    let kinds: Vec<_> = ok_records.iter().map(|r| r["record"].clone()).collect();
    assert_eq!(
        kinds,
        [json!("invocation"), json!("result"), json!("next")],
        "{ok_records:#?}"
    );
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
