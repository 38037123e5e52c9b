//! The Node.js runtime client (`aws-lambda-ric` 4.x, the npm package, `make node`) through the proxy:
//! each handler of the example Node.js function runs once straight against the in-test Runtime API and
//! once through the proxy. What reached the Runtime API must be the same bytes, and the proxy's record
//! must hold exactly what was forwarded. The assertions spell out the shapes this client sends: an
//! error body whose stack is `trace` (not `stackTrace`), a streamed error as the trailers
//! `Lambda-Runtime-Function-Error-Type` and `Lambda-Runtime-Function-Error-Body` (base64 JSON of the
//! same error body), and a stream the timeout cuts off.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;

use lambda_lens::record::{ProxyRecord, ResultKind, ResultRecord};
use lambda_lens_test_support::fake_lambda::FakeInvocation;
use lambda_lens_test_support::proxy::proxy_to_fake_lambda;
use lambda_lens_test_support::runtimes::{spawn_node_function, NodeHandler};
use lambda_lens_test_support::scenario::{run_scenario, Seen};

/// Runs `invocation` with `handler` straight and through the proxy; returns what reached the Runtime
/// API each way and the proxy's record.
async fn straight_and_proxied(
    handler: NodeHandler,
    invocation: FakeInvocation,
) -> (Seen, Seen, ResultRecord) {
    let invocations = [invocation];
    let spawn = |api: &str| spawn_node_function(api, handler);
    let (mut direct, _) = run_scenario(&invocations, false, spawn).await;
    let (mut proxied, mut records) = run_scenario(&invocations, true, spawn).await;
    let (Some(direct), Some(proxied), Some(record)) = (direct.pop(), proxied.pop(), records.pop())
    else {
        panic!("one result each way and one record")
    };
    (direct, proxied, record)
}

/// Asserts that the proxy forwarded `direct` exactly: the only difference allowed is the hop-by-hop
/// `Connection` header, which the proxy drops (the README's forwarding rules).
fn assert_forwarded_exactly(mut direct: Seen, proxied: &Seen) {
    if let Some(connection) = direct.headers.remove("connection") {
        assert_eq!(connection, "keep-alive");
    }
    assert_eq!(
        &direct, proxied,
        "what reached the Runtime API differs for {}",
        direct.path
    );
}

/// Asserts that `record` holds the whole body that reached the Runtime API, which accepted it.
fn assert_recorded_whole(record: &ResultRecord, proxied: &Seen) {
    assert_eq!(record.body.head, proxied.body);
    assert_eq!(record.body.size, proxied.body.len() as u64);
    assert!(record.body.complete);
    assert_eq!(record.upstream_status, Some(202));
}

/// The error body fields and their order as this client writes them (`formatError`).
fn error_body_prefix(error_type: &str, message: &str) -> String {
    format!(
        r#"{{"errorType":"{error_type}","errorMessage":"{message}","trace":["{error_type}: {message}","    at "#
    )
}

/// Asserts the shape of an error body: exactly `errorType`, `errorMessage` and `trace`, the trace the
/// stack's lines with the handler's frame first.
fn assert_error_body(body: &[u8], error_type: &str, message: &str) {
    let text = String::from_utf8_lossy(body);
    assert!(
        text.starts_with(&error_body_prefix(error_type, message)) && text.ends_with("\"]}"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_slice(body).expect("error body is JSON");
    let fields: Vec<_> = json
        .as_object()
        .expect("error body is an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        ["errorMessage", "errorType", "trace"],
        "no stackTrace"
    );
    let trace: Vec<_> = json["trace"]
        .as_array()
        .expect("trace is an array")
        .iter()
        .map(|line| line.as_str().expect("trace lines are strings"))
        .collect();
    assert!(trace.len() > 2, "{trace:?}");
    assert!(
        trace[1].contains("/examples/node-function/index.mjs:"),
        "the handler's frame comes first: {trace:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_reaches_the_runtime_api_as_sent_and_is_recorded_exactly() {
    let (direct, proxied, record) = straight_and_proxied(
        NodeHandler::Echo,
        FakeInvocation::new("node-ok", r#"{"name":"lens","n":1}"#),
    )
    .await;
    assert_forwarded_exactly(direct, &proxied);

    assert_eq!(
        proxied.path,
        "/2018-06-01/runtime/invocation/node-ok/response"
    );
    let expected = Bytes::from_static(br#"{"requestId":"node-ok","event":{"name":"lens","n":1}}"#);
    assert_eq!(proxied.body, expected);
    assert_eq!(record.kind, ResultKind::Response);
    assert!(!record.streaming);
    assert_recorded_whole(&record, &proxied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thrown_error_is_sent_with_its_stack_as_trace_and_recorded_exactly() {
    let (direct, proxied, record) = straight_and_proxied(
        NodeHandler::Fail,
        FakeInvocation::new("node-error", r#"{"fail":"the event asked to fail"}"#),
    )
    .await;
    assert_forwarded_exactly(direct, &proxied);

    assert_eq!(
        proxied.path,
        "/2018-06-01/runtime/invocation/node-error/error"
    );
    assert_error_body(&proxied.body, "TypeError", "the event asked to fail");
    // The native client sends the error type in the body and the X-Ray cause only, no type header.
    assert!(!proxied
        .headers
        .contains_key("lambda-runtime-function-error-type"));
    let cause: serde_json::Value =
        serde_json::from_str(&proxied.headers["lambda-runtime-function-xray-error-cause"])
            .expect("X-Ray cause is JSON");
    assert_eq!(cause["exceptions"][0]["type"], "TypeError");
    assert_eq!(cause["exceptions"][0]["message"], "the event asked to fail");

    assert_eq!(record.kind, ResultKind::Error);
    assert_eq!(record.error_type, None);
    assert_eq!(record.error_body_trailer, None);
    assert_eq!(
        record.xray_error_cause.as_deref(),
        Some(proxied.headers["lambda-runtime-function-xray-error-cause"].as_str())
    );
    assert_recorded_whole(&record, &proxied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_throws_ends_in_error_trailers_kept_and_recorded_as_sent() {
    let (direct, proxied, record) = straight_and_proxied(
        NodeHandler::StreamThenThrow,
        FakeInvocation::new(
            "node-stream-error",
            r#"{"chunks":3,"delayMs":50,"fail":"the stream broke after 3 chunks"}"#,
        ),
    )
    .await;
    assert_forwarded_exactly(direct, &proxied);

    assert_eq!(
        proxied.path,
        "/2018-06-01/runtime/invocation/node-stream-error/response"
    );
    assert_eq!(
        proxied.headers["lambda-runtime-function-response-mode"],
        "streaming"
    );
    assert_eq!(proxied.headers["transfer-encoding"], "chunked");
    assert_eq!(
        proxied.headers["trailer"],
        "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
    );
    assert_eq!(
        proxied.body,
        Bytes::from_static(b"chunk 0\nchunk 1\nchunk 2\n")
    );
    // Real trailers after the last chunk (not in-band data as with lambda_runtime).
    let trailers = proxied.trailers.as_ref().expect("trailers sent");
    assert_eq!(trailers.len(), 2, "{trailers:?}");
    assert_eq!(trailers["lambda-runtime-function-error-type"], "RangeError");
    let encoded = &trailers["lambda-runtime-function-error-body"];
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("the error body trailer is base64");
    assert_error_body(&decoded, "RangeError", "the stream broke after 3 chunks");

    assert_eq!(record.kind, ResultKind::Response);
    assert!(record.streaming);
    assert_eq!(record.error_type.as_deref(), Some("RangeError"));
    assert_eq!(record.error_body_trailer.as_deref(), Some(encoded.as_str()));
    assert_recorded_whole(&record, &proxied);
}

/// How long after the runtime's first `/next` the stalled invocation's deadline falls.
const STALL_DEADLINE: Duration = Duration::from_secs(3);
/// How long after the deadline the runtime is ended, as the platform ends a timed-out one.
const KILL_AFTER_DEADLINE: Duration = Duration::from_millis(500);

/// Runs the stalling stream straight or through the proxy, ends the runtime after the deadline, and
/// returns what reached the Runtime API and, proxied, the proxy's result record.
async fn stalled_stream(proxied: bool) -> (Seen, Option<ResultRecord>) {
    let (fake, mut proxy) = proxy_to_fake_lambda().await;
    let api = if proxied {
        proxy.runtime_api()
    } else {
        fake.runtime_api()
    };
    let runtime = spawn_node_function(&api, NodeHandler::StreamThenStall);
    // The deadline counts from the runtime's first /next, so a slow start cannot use it up.
    fake.wait_for_call("the runtime's first /next", |c| {
        c.path.ends_with("/invocation/next")
    })
    .await;
    let deadline = SystemTime::now() + STALL_DEADLINE;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .expect("clock after epoch")
        .as_millis();
    fake.push_invocation(
        FakeInvocation::new("node-timeout", r#"{"partial":"partial answer, "}"#)
            .with_header("Lambda-Runtime-Deadline-Ms", &deadline_ms.to_string()),
    );
    tokio::time::sleep(STALL_DEADLINE + KILL_AFTER_DEADLINE).await;
    drop(runtime);
    let seen = Seen::of(&fake.wait_for_result("node-timeout").await);
    let record = if proxied {
        loop {
            if let ProxyRecord::Result(r) = proxy.record().await {
                break Some(*r);
            }
        }
    } else {
        None
    };
    (seen, record)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_off_by_the_timeout_is_forwarded_and_recorded_as_far_as_it_got() {
    let ((direct, _), (proxied, record)) =
        tokio::join!(stalled_stream(false), stalled_stream(true));
    assert_forwarded_exactly(direct, &proxied);

    assert_eq!(
        proxied.path,
        "/2018-06-01/runtime/invocation/node-timeout/response"
    );
    assert_eq!(
        proxied.headers["lambda-runtime-function-response-mode"],
        "streaming"
    );
    assert_eq!(proxied.body, Bytes::from_static(b"partial answer, "));
    assert_eq!(proxied.trailers, None);

    let record = record.expect("a record of the cut-off stream");
    assert_eq!(record.kind, ResultKind::Response);
    assert!(record.streaming);
    assert_eq!(record.body.head, proxied.body);
    assert_eq!(record.body.size, proxied.body.len() as u64);
    assert!(!record.body.complete, "the stream never ended");
    assert_eq!(record.error_type, None);
    assert_eq!(record.error_body_trailer, None);
    // The runtime went away mid-body: the Runtime API never answered, and nothing failed upstream.
    assert_eq!(record.upstream_status, None);
    assert_eq!(record.upstream_error, None);
}
