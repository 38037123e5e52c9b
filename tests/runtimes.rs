//! Real runtime clients through the proxy: the Python `awslambdaric` running the example function and
//! a Rust `lambda_runtime` function streaming its response. Each scenario runs twice, once straight
//! against the in-test Runtime API and once through the proxy, and what reached the Runtime API must
//! be identical.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

use lambda_lens::record::ResultKind;
use lambda_lens_test_support::fake_lambda::{FakeInvocation, FakeLambda};
use lambda_lens_test_support::proxy::ProxyUnderTest;
use lambda_lens_test_support::repo::repo_root;
use lambda_lens_test_support::runtimes::{spawn_python_function, ChildGuard};
use lambda_lens_test_support::scenario::run_scenario;

/// Starts the streaming Rust example function, talking to `runtime_api`. (Here rather than in the
/// test support: it finds the example beside this package's binary.)
fn spawn_stream_function(runtime_api: &str) -> ChildGuard {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_lambda-lens"))
        .parent()
        .expect("binary directory")
        .join("examples/stream_function");
    if !exe.exists() {
        // `cargo test` builds examples, `cargo test --test runtimes` does not.
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--example", "stream_function"])
            .current_dir(repo_root())
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building the stream_function example failed"
        );
    }
    let child = tokio::process::Command::new(exe)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "stream")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("stream function starts");
    ChildGuard(Some(child))
}

fn python_invocations() -> Vec<FakeInvocation> {
    let big_blob = "x".repeat(5_900_000);
    vec![
        FakeInvocation::new("py-ok", r#"{"name":"lens","n":1}"#),
        FakeInvocation::new("py-error", r#"{"fail":"the event asked to fail"}"#),
        FakeInvocation::new("py-big", format!(r#"{{"echo":true,"blob":"{big_blob}"}}"#)),
        FakeInvocation::new(
            "py-binary",
            Bytes::from_static(b"\xff\xfe\x00binary\x80\x81"),
        )
        .with_header("Content-Type", "application/octet-stream"),
        FakeInvocation::new("py-unicode", r#"{"echo":true,"text":"héllo 世界 🎉"}"#),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_awslambdaric_through_the_proxy_is_indistinguishable_from_direct() {
    let invocations = python_invocations();
    let (direct, _) = run_scenario(&invocations, false, spawn_python_function).await;
    let (proxied, records) = run_scenario(&invocations, true, spawn_python_function).await;
    assert_eq!(direct.len(), proxied.len());
    for (d, p) in direct.iter().zip(&proxied) {
        assert_eq!(d, p, "what reached the Runtime API differs for {}", d.path);
    }

    let by_id = |id: &str| {
        proxied
            .iter()
            .find(|s| s.path.contains(&format!("/{id}/")))
            .expect("call present")
    };
    let ok = by_id("py-ok");
    assert!(ok.path.ends_with("/response"));
    let body: serde_json::Value = serde_json::from_slice(&ok.body).expect("JSON response");
    assert_eq!(body["requestId"], "py-ok");
    assert_eq!(body["keys"], serde_json::json!(["n", "name"]));

    let err = by_id("py-error");
    assert!(err.path.ends_with("/error"));
    let body: serde_json::Value = serde_json::from_slice(&err.body).expect("JSON error body");
    assert_eq!(body["errorMessage"], "the event asked to fail");
    assert_eq!(body["errorType"], "ValueError");
    let cause: serde_json::Value =
        serde_json::from_str(&err.headers["lambda-runtime-function-xray-error-cause"])
            .expect("X-Ray cause is JSON");
    assert_eq!(cause["exceptions"][0]["type"], "ValueError");
    assert_eq!(cause["exceptions"][0]["message"], "the event asked to fail");

    let big = by_id("py-big");
    assert!(big.body.len() > 5_900_000, "big echo {}", big.body.len());
    let binary = by_id("py-binary");
    assert_eq!(
        binary.body,
        Bytes::from_static(b"\xff\xfe\x00binary\x80\x81")
    );
    let unicode = by_id("py-unicode");
    let body: serde_json::Value = serde_json::from_slice(&unicode.body).expect("JSON echo");
    assert_eq!(body["text"], "héllo 世界 🎉");

    let record = |id: &str| {
        records
            .iter()
            .find(|r| r.request_id.as_ref().map(|r| r.as_str()) == Some(id))
            .expect("record present")
    };
    let rec = record("py-error");
    assert_eq!(rec.kind, ResultKind::Error);
    assert_eq!(rec.upstream_status, Some(202));
    // awslambdaric sends no error-type header; the proxy records exactly what was sent.
    assert_eq!(
        rec.error_type.as_deref(),
        err.headers
            .get("lambda-runtime-function-error-type")
            .map(String::as_str)
    );
    assert_eq!(
        rec.xray_error_cause.as_deref(),
        Some(err.headers["lambda-runtime-function-xray-error-cause"].as_str())
    );
    let rec = record("py-big");
    assert_eq!(rec.kind, ResultKind::Response);
    assert_eq!(rec.body.size, big.body.len() as u64);
    assert_eq!(rec.body.head.len(), 4096);
    assert_eq!(record("py-binary").body.head, binary.body);
}

fn stream_invocations() -> Vec<FakeInvocation> {
    vec![
        FakeInvocation::new(
            "rs-stream",
            r#"{"chunks":3,"chunk_bytes":32,"delay_ms":300,"fail_after":null}"#,
        ),
        FakeInvocation::new(
            "rs-broken",
            r#"{"chunks":3,"chunk_bytes":32,"delay_ms":50,"fail_after":1}"#,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_streaming_function_through_the_proxy_streams_and_keeps_trailers() {
    let invocations = stream_invocations();
    let (direct, _) = run_scenario(&invocations, false, spawn_stream_function).await;
    let (proxied, records) = run_scenario(&invocations, true, spawn_stream_function).await;
    for (d, p) in direct.iter().zip(&proxied) {
        assert_eq!(d, p, "what reached the Runtime API differs for {}", d.path);
    }

    let stream = &proxied[0];
    assert_eq!(
        stream.headers["lambda-runtime-function-response-mode"],
        "streaming"
    );
    assert_eq!(stream.headers["transfer-encoding"], "chunked");
    let body = String::from_utf8_lossy(&stream.body);
    assert!(
        body.ends_with(&format!(
            "chunk 0000{dots}chunk 0001{dots}chunk 0002{dots}",
            dots = ".".repeat(22)
        )),
        "{body}"
    );
    assert!(
        stream.body.windows(8).any(|w| w == [0u8; 8]),
        "prelude separator kept"
    );

    // lambda_runtime 1.5 declares the error trailers but writes them in-band, as the last data
    // chunk; the platform sees exactly those bytes, and so must the Runtime API behind the proxy.
    let broken = &proxied[1];
    assert_eq!(
        broken.headers["trailer"],
        "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
    );
    let expected_tail = format!(
        "chunk 0000{}Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\nLambda-Runtime-Function-Error-Body: {}\r\n",
        ".".repeat(22),
        "c3RyZWFtIGJyb2tlIGFmdGVyIDEgY2h1bmtz"
    );
    assert!(
        String::from_utf8_lossy(&broken.body).ends_with(&expected_tail),
        "{}",
        String::from_utf8_lossy(&broken.body)
    );
    let rec = records
        .iter()
        .find(|r| r.request_id.as_ref().map(|r| r.as_str()) == Some("rs-broken"))
        .expect("record of the broken stream");
    assert!(rec.streaming);
    assert!(rec.body.complete);
    assert_eq!(rec.body.size, broken.body.len() as u64);
    assert_eq!(rec.upstream_status, Some(202));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_chunks_reach_upstream_as_the_function_writes_them() {
    let fake = FakeLambda::start().await;
    let proxy = ProxyUnderTest::start(fake.endpoint(), 4096).await;
    let _runtime = spawn_stream_function(&proxy.runtime_api());
    fake.push_invocation(FakeInvocation::new(
        "rs-paced",
        r#"{"chunks":4,"chunk_bytes":16,"delay_ms":250,"fail_after":null}"#,
    ));
    let call = fake.wait_for_result("rs-paced").await;
    let data_frames: Vec<_> = call.frames.iter().filter(|(_, n)| *n > 0).collect();
    assert!(data_frames.len() >= 4, "frames {:?}", call.frames);
    let spread = data_frames
        .last()
        .expect("frames")
        .0
        .duration_since(data_frames[0].0);
    assert!(
        spread >= Duration::from_millis(600),
        "chunks arrived together ({spread:?}): the proxy buffered the stream"
    );
}
