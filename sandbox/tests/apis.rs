//! Status codes, headers and error documents of the Runtime, Extensions, Telemetry and Logs APIs.

mod common;

use common::*;
use lambda_sandbox::{Invocation, Sandbox, ShutdownReason, Status, TraceMode};
use serde_json::json;

const LIMIT_MESSAGE: &str = "Exceeded maximum allowed payload size (6291556 bytes).";

#[tokio::test]
async fn runtime_api_state_machine_and_status_codes() {
    let env = Env::new("rtapi");
    env.add_extension("ext", &[]);
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    let addr = sandbox.runtime_api_addr();
    assert!(addr.ip().is_loopback());

    // The runtime is blocked in /next: a second /next is a state violation, and there is nothing to answer.
    let next = request(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], "").await;
    assert_error(&next, 403, "InvalidStateTransition");
    let early = request(
        addr,
        "POST",
        "/2018-06-01/runtime/invocation/00000000-0000-4000-8000-000000000000/response",
        &[],
        "{}",
    )
    .await;
    assert_error(&early, 403, "InvalidStateTransition");

    let outcome = sandbox
        .invoke(Invocation::json(&json!({"action": "probe"})))
        .await;
    assert_eq!(outcome.status, Status::Success);
    assert_eq!(outcome.body_json(), json!({"probed": true}));
    let probes = &log_entries(&env.runtime_log(), "probes")[0]["probes"];
    assert_probe(&probes["response_wrong_id"], 400, "InvalidRequestID");
    assert_eq!(
        probes["response_wrong_id"][2]["errorMessage"],
        "Invalid request ID"
    );
    assert_probe(&probes["error_wrong_id"], 400, "InvalidRequestID");
    assert_probe(&probes["bad_mode"], 400, "InvalidFunctionResponseMode");
    assert_probe(&probes["init_error_late"], 403, "InvalidStateTransition");
    assert_probe(
        &probes["next_before_response"],
        403,
        "InvalidStateTransition",
    );
    assert_eq!(probes["respond"][0], 202);
    assert_eq!(probes["respond"][2], json!({"status": "OK"}));
    assert_probe(&probes["respond_again"], 403, "InvalidStateTransition");
    assert_probe(
        &probes["error_after_response"],
        403,
        "InvalidStateTransition",
    );

    // Exactly the limit is accepted; one byte more is 413 with rapid's message.
    let at_limit = sandbox
        .invoke(Invocation::json(
            &json!({"action": "big", "bytes": 6_291_556}),
        ))
        .await;
    assert_eq!(at_limit.status, Status::Success);
    assert_eq!(at_limit.body.len(), 6_291_556);
    let over = sandbox
        .invoke(Invocation::json(
            &json!({"action": "big", "bytes": 6_291_557}),
        ))
        .await;
    let bigs = log_entries(&env.runtime_log(), "big");
    assert_eq!(bigs[0]["status"], 202);
    assert_eq!(bigs[1]["status"], 413);
    assert_eq!(
        bigs[1]["body"],
        json!({"errorMessage": LIMIT_MESSAGE, "errorType": "RequestEntityTooLarge"})
    );
    assert_eq!(over.status, Status::Error);
    assert_eq!(
        over.error_type.as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
    assert_eq!(over.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        over.body_json()["errorType"],
        "Function.ResponseSizeTooLarge"
    );

    // A function error: 202 to the runtime, the error document and X-Amz-Function-Error to the caller.
    let failed = sandbox
        .invoke(Invocation::json(&json!({"action": "error"})))
        .await;
    assert_eq!(
        log_entries(&env.runtime_log(), "error_posted")[0]["status"],
        202
    );
    assert_eq!(failed.status, Status::Error);
    assert_eq!(failed.error_type.as_deref(), Some("Function.TestError"));
    assert_eq!(failed.headers["x-amz-function-error"], "Unhandled");
    assert_eq!(
        failed.body_json(),
        json!({"errorMessage": "it failed", "errorType": "TestError", "stackTrace": []})
    );
    sandbox.shutdown(ShutdownReason::Spindown).await;
}

#[tokio::test]
async fn next_headers_carry_the_invocation_context() {
    let env = Env::new("headers");
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let outcome = sandbox
        .invoke(
            Invocation::json(&json!({"k": "v"}))
                .with_trace_header(trace)
                .with_client_context(r#"{"custom":{"a":"b"}}"#)
                .with_tenant_id("tenant-1"),
        )
        .await;
    let body = outcome.body_json();
    let h = &body["headers"];
    assert_eq!(
        h["lambda-runtime-aws-request-id"],
        outcome.request_id.as_str()
    );
    let deadline: u64 = h["lambda-runtime-deadline-ms"]
        .as_str()
        .expect("deadline")
        .parse()
        .expect("epoch ms");
    assert!(
        deadline >= before + 3000 && deadline < before + 3000 + 5000,
        "deadline {deadline} vs {before}"
    );
    assert_eq!(
        h["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    );
    assert_eq!(h["lambda-runtime-trace-id"], trace);
    assert_eq!(
        h["lambda-runtime-client-context"],
        r#"{"custom":{"a":"b"}}"#
    );
    assert_eq!(h["lambda-runtime-aws-tenant-id"], "tenant-1");
    assert_eq!(h["content-type"], "application/json");
    assert!(h.get("lambda-runtime-cognito-identity").is_none());
    assert_eq!(body["event"], json!({"k": "v"}));

    // Every trace shape on demand, and no header at all for `none`.
    for (mode, check) in [
        (TraceMode::Active, ";Sampled=1"),
        (TraceMode::Unsampled, ";Sampled=0"),
        (TraceMode::Lineage, ":0"),
    ] {
        let out = sandbox
            .invoke(Invocation::json(&json!({})).with_trace(mode))
            .await;
        let value = out.body_json()["headers"]["lambda-runtime-trace-id"]
            .as_str()
            .expect("trace header")
            .to_owned();
        assert!(
            value.starts_with("Root=1-") && value.ends_with(check),
            "{mode:?}: {value}"
        );
    }
    let none = sandbox
        .invoke(Invocation::json(&json!({})).with_trace(TraceMode::None))
        .await;
    assert!(none.body_json()["headers"]
        .get("lambda-runtime-trace-id")
        .is_none());

    // The RIE-compatible endpoint decodes the base64 client context and forwards trace and tenant.
    let url = sandbox.invoke_url().expect("invoke endpoint");
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let req = hyper::Request::post(url)
        .header("X-Amzn-Trace-Id", trace)
        .header("X-Amz-Client-Context", "eyJjdXN0b20iOnsiYSI6ImIifX0=")
        .header("X-Amz-Tenant-Id", "tenant-2")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"{\"via\":\"http\"}",
        )))
        .expect("request");
    let resp = client.request(req).await.expect("invoke endpoint answers");
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["x-amzn-requestid"]
        .to_str()
        .expect("id")
        .to_owned();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(
        body["headers"]["lambda-runtime-aws-request-id"],
        request_id.as_str()
    );
    assert_eq!(
        body["headers"]["lambda-runtime-client-context"],
        r#"{"custom":{"a":"b"}}"#
    );
    assert_eq!(body["headers"]["lambda-runtime-aws-tenant-id"], "tenant-2");
    assert_eq!(body["headers"]["lambda-runtime-trace-id"], trace);
    assert_eq!(body["event"], json!({"via": "http"}));
    sandbox.shutdown(ShutdownReason::Spindown).await;
}

#[tokio::test]
async fn extensions_api_registration_events_and_errors() {
    let env = Env::new("extapi");
    let probe_log = env.add_extension("prober", &[("FAKE_PROBES", "1"), ("FAKE_ACCOUNT", "1")]);
    let plain_log = env.add_extension("plain", &[("FAKE_EVENTS", "INVOKE")]);
    let sandbox = Sandbox::start(env.fake_runtime_config())
        .await
        .expect("sandbox starts");
    let addr = sandbox.runtime_api_addr();

    let register = &log_entries(&probe_log, "register")[0];
    assert_eq!(register["status"], 200);
    let id = register["headers"]["lambda-extension-identifier"]
        .as_str()
        .expect("id");
    assert_eq!(id.len(), 36);
    assert_eq!(
        register["body"],
        json!({"functionName": "test-function", "functionVersion": "$LATEST", "handler": "app.handler", "accountId": "123456789012"})
    );
    let plain = &log_entries(&plain_log, "register")[0];
    assert_eq!(
        plain["body"],
        json!({"functionName": "test-function", "functionVersion": "$LATEST", "handler": "app.handler"})
    );

    let early = &log_entries(&probe_log, "register_probes")[0]["probes"];
    assert_probe(&early["empty_name"], 403, "Extension.InvalidExtensionName");
    assert_probe(&early["no_body"], 403, "InvalidRequestFormat");
    assert_probe(&early["bad_event"], 403, "Extension.InvalidEventType");
    let probes = &log_entries(&probe_log, "probes")[0]["probes"];
    assert_probe(&probes["duplicate"], 403, "Extension.InvalidExtensionState");
    for key in ["subscribe_schema", "subscribe_types", "subscribe_timeout"] {
        assert_probe(&probes[key], 400, "ValidationError");
    }
    assert_eq!(
        probes["subscribe_port"][2],
        json!({"errorType": "ValidationError", "errorMessage": "URI port is not provided"})
    );

    // After init: registration and subscription are closed; identifiers are checked.
    let late = request(
        addr,
        "POST",
        "/2020-01-01/extension/register",
        &[("Lambda-Extension-Name", "late")],
        r#"{"events":["INVOKE"]}"#,
    )
    .await;
    assert_error(&late, 403, "Extension.RegistrationClosed");
    let missing = request(addr, "GET", "/2020-01-01/extension/event/next", &[], "").await;
    assert_error(&missing, 403, "Extension.MissingExtensionIdentifier");
    let invalid = request(
        addr,
        "GET",
        "/2020-01-01/extension/event/next",
        &[("Lambda-Extension-Identifier", "nope")],
        "",
    )
    .await;
    assert_error(&invalid, 403, "Extension.InvalidExtensionIdentifier");
    let unknown_id = [(
        "Lambda-Extension-Identifier",
        "00000000-0000-4000-8000-000000000000",
    )];
    let unknown = request(
        addr,
        "GET",
        "/2020-01-01/extension/event/next",
        &unknown_id,
        "",
    )
    .await;
    assert_error(&unknown, 403, "Extension.UnknownExtensionIdentifier");
    let known = [("Lambda-Extension-Identifier", id)];
    let sub = json!({"schemaVersion": "2022-12-13", "types": ["platform"], "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:1234"}});
    let closed = request(
        addr,
        "PUT",
        "/2022-07-01/telemetry",
        &known,
        &sub.to_string(),
    )
    .await;
    assert_error(&closed, 403, "Telemetry.SubscriptionClosed");
    let no_id = request(addr, "PUT", "/2022-07-01/telemetry", &[], &sub.to_string()).await;
    assert_error(&no_id, 403, "Extension.MissingExtensionIdentifier");
    let logs = request(addr, "PUT", "/2020-08-15/logs", &known, "{}").await;
    assert_error(&logs, 202, "Logs.NotSupported");
    let no_header = request(
        addr,
        "POST",
        "/2020-01-01/extension/exit/error",
        &known,
        "{}",
    )
    .await;
    assert_error(&no_header, 403, "Extension.MissingHeader");

    // INVOKE: released to both, exact headers and body.
    let outcome = sandbox
        .invoke(Invocation::json(&json!({})).with_trace(TraceMode::Lineage))
        .await;
    let events = log_entries(&plain_log, "event");
    let invoke = &events[0];
    assert_eq!(invoke["status"], 200);
    assert_eq!(invoke["headers"]["content-type"], "application/json");
    assert_eq!(
        invoke["headers"]["lambda-extension-event-identifier"]
            .as_str()
            .expect("event id")
            .len(),
        36
    );
    let body = &invoke["body"];
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "deadlineMs",
            "eventType",
            "invokedFunctionArn",
            "requestId",
            "tracing"
        ]
    );
    assert_eq!(body["eventType"], "INVOKE");
    assert_eq!(body["requestId"], outcome.request_id.as_str());
    assert_eq!(
        body["invokedFunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    );
    assert_eq!(body["tracing"]["type"], "X-Amzn-Trace-Id");
    assert!(body["deadlineMs"].as_u64().is_some());
    let runtime_next = log_entries(&env.runtime_log(), "next");
    assert_eq!(
        runtime_next[0]["headers"]["lambda-runtime-deadline-ms"]
            .as_str()
            .expect("deadline"),
        body["deadlineMs"].to_string(),
        "INVOKE deadlineMs equals the runtime's deadline"
    );
    let untraced = sandbox.invoke(Invocation::json(&json!({}))).await;
    let second = &log_entries(&plain_log, "event")[1]["body"];
    assert_eq!(second["requestId"], untraced.request_id.as_str());
    assert!(
        second.get("tracing").is_none(),
        "tracing is omitted without a trace header"
    );

    let shutdown = sandbox.shutdown(ShutdownReason::Spindown).await;
    let prober_event = log_entries(&probe_log, "event")
        .last()
        .cloned()
        .expect("events");
    assert_eq!(prober_event["body"]["eventType"], "SHUTDOWN");
    assert_eq!(prober_event["body"]["shutdownReason"], "spindown");
    assert!(shutdown
        .process("prober")
        .expect("prober exit")
        .exited_cleanly());
    // `plain` did not register for SHUTDOWN: it is killed, not told.
    assert!(shutdown.process("plain").expect("plain exit").sent_sigkill);
}
