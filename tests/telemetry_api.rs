//! The Telemetry API subscriber: batches transcribed from the AWS docs' samples (obvious typos of
//! the examples fixed, the malformed span start `12:01:23:521Z` kept on purpose),
//! the delivery listener driven by a real HTTP client, and the subscription against an in-test
//! platform that answers like rapid and the AWS emulator do.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use lambda_lens::platform_http::{self, ApiBody, PlatformClient};
use lambda_lens::record::RequestId;
use lambda_lens::settings::RuntimeApiEndpoint;
use lambda_lens::telemetry::{
    self, parse_batch, BatchReceiver, LogSource, PlatformSpan, PlatformStatus, PlatformTracing,
    Report, ReportMetrics, RuntimeDone, SchemaVersion, Start, SubscribeError, Subscription,
    TelemetryBody, TelemetryEvent,
};

const REQUEST_ID: &str = "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa";
const XRAY: &str = "Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1";
/// How long a test waits for something that should take milliseconds.
const PATIENCE: Duration = Duration::from_secs(5);

fn at_ms(epoch_ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(epoch_ms)
}

/// Parses a one-element batch, expecting it to be understood.
fn parse_one(element: &str) -> TelemetryEvent {
    let (mut events, skipped) = parse_batch(format!("[{element}]").as_bytes());
    assert_eq!(skipped, 0, "{element}");
    assert_eq!(events.len(), 1, "{element}");
    events.remove(0)
}

fn xray_tracing() -> Option<PlatformTracing> {
    Some(PlatformTracing {
        span_id: Some("54565fb41ac79632".into()),
        value: XRAY.into(),
    })
}

// ---------------------------------------------------------------------------------------------
// parse_batch on the documented samples

#[test]
fn init_start_sample() {
    let event = parse_one(
        r#"{"time": "2022-10-12T00:00:15.064Z", "type": "platform.initStart", "record": {
            "initializationType": "on-demand", "phase": "init", "functionName": "my-function",
            "functionVersion": "$LATEST", "instanceId": "2022/10/12/[$LATEST]0123456789abcdef",
            "instanceMaxMemory": 134217728, "runtimeVersion": "nodejs-14.v3", "runtimeVersionArn": "arn"}}"#,
    );
    assert_eq!(
        event,
        TelemetryEvent {
            time: at_ms(1_665_532_815_064),
            body: TelemetryBody::InitStart {
                initialization_type: Some("on-demand".into()),
                phase: Some("init".into()),
                function_name: Some("my-function".into()),
                function_version: Some("$LATEST".into()),
                instance_id: Some("2022/10/12/[$LATEST]0123456789abcdef".into()),
                instance_max_memory: Some(134_217_728),
                runtime_version: Some("nodejs-14.v3".into()),
            },
        }
    );
}

#[test]
fn init_start_as_printed_in_the_docs_has_only_some_fields() {
    let event = parse_one(
        r#"{"time": "2022-10-12T00:00:15.064Z", "type": "platform.initStart", "record": {
            "initializationType": "on-demand", "phase": "init", "runtimeVersion": "nodejs-14.v3",
            "runtimeVersionArn": "arn"}}"#,
    );
    assert_eq!(
        event.body,
        TelemetryBody::InitStart {
            initialization_type: Some("on-demand".into()),
            phase: Some("init".into()),
            function_name: None,
            function_version: None,
            instance_id: None,
            instance_max_memory: None,
            runtime_version: Some("nodejs-14.v3".into()),
        }
    );
}

#[test]
fn init_runtime_done_with_spans() {
    let event = parse_one(
        r#"{"time": "2022-10-12T00:01:15.000Z", "type": "platform.initRuntimeDone", "record": {
            "initializationType": "on-demand", "status": "success",
            "spans": [{"name": "someTimeSpan", "start": "2022-06-02T12:02:33.913Z", "durationMs": 70.5}]}}"#,
    );
    assert_eq!(
        event,
        TelemetryEvent {
            time: at_ms(1_665_532_875_000),
            body: TelemetryBody::InitRuntimeDone {
                initialization_type: Some("on-demand".into()),
                phase: None,
                status: Some(PlatformStatus::Success),
                error_type: None,
                spans: vec![PlatformSpan {
                    name: "someTimeSpan".into(),
                    start: at_ms(1_654_171_353_913),
                    duration_ms: 70.5,
                }],
            },
        }
    );
}

#[test]
fn init_report_with_failure() {
    let event = parse_one(
        r#"{"time": "2022-10-12T00:01:15.000Z", "type": "platform.initReport", "record": {
            "initializationType": "on-demand", "phase": "init", "status": "error",
            "errorType": "Runtime.ExitError", "metrics": {"durationMs": 125.33},
            "spans": [{"name": "someTimeSpan", "start": "2022-06-02T12:02:33.913Z", "durationMs": 90.1}]}}"#,
    );
    assert_eq!(
        event.body,
        TelemetryBody::InitReport {
            initialization_type: Some("on-demand".into()),
            phase: Some("init".into()),
            status: Some(PlatformStatus::Error),
            error_type: Some("Runtime.ExitError".into()),
            duration_ms: Some(125.33),
            spans: vec![PlatformSpan {
                name: "someTimeSpan".into(),
                start: at_ms(1_654_171_353_913),
                duration_ms: 90.1,
            }],
        }
    );
}

#[test]
fn start_with_tracing() {
    let event = parse_one(&format!(
        r#"{{"time": "2022-10-12T00:00:15.064Z", "type": "platform.start", "record": {{
            "requestId": "{REQUEST_ID}", "version": "$LATEST",
            "tracing": {{"spanId": "54565fb41ac79632", "type": "X-Amzn-Trace-Id", "value": "{XRAY}"}}}}}}"#
    ));
    assert_eq!(
        event,
        TelemetryEvent {
            time: at_ms(1_665_532_815_064),
            body: TelemetryBody::Start(Start {
                request_id: RequestId::new(REQUEST_ID),
                version: Some("$LATEST".into()),
                tracing: xray_tracing(),
                tenant_id: None,
            }),
        }
    );
}

#[test]
fn runtime_done_with_metrics_and_the_docs_malformed_span_start() {
    let event = parse_one(&format!(
        r#"{{"time": "2022-10-12T00:01:15.000Z", "type": "platform.runtimeDone", "record": {{
            "requestId": "{REQUEST_ID}", "status": "success",
            "tracing": {{"spanId": "54565fb41ac79632", "type": "X-Amzn-Trace-Id", "value": "{XRAY}"}},
            "spans": [{{"name": "someTimeSpan", "start": "2022-08-02T12:01:23:521Z", "durationMs": 80.0}},
                      {{"name": "responseLatency", "start": "2022-08-02T12:01:23.521Z", "durationMs": 23.02}}],
            "metrics": {{"durationMs": 140.0, "producedBytes": 16}}}}}}"#
    ));
    assert_eq!(
        event.body,
        TelemetryBody::RuntimeDone(RuntimeDone {
            request_id: RequestId::new(REQUEST_ID),
            status: Some(PlatformStatus::Success),
            error_type: None,
            duration_ms: Some(140.0),
            produced_bytes: Some(16),
            spans: vec![
                PlatformSpan {
                    name: "someTimeSpan".into(),
                    start: at_ms(1_659_441_683_521),
                    duration_ms: 80.0,
                },
                PlatformSpan {
                    name: "responseLatency".into(),
                    start: at_ms(1_659_441_683_521),
                    duration_ms: 23.02,
                },
            ],
            tracing: xray_tracing(),
        })
    );
}

#[test]
fn runtime_done_timeout_without_metrics() {
    let event = parse_one(&format!(
        r#"{{"time": "2022-10-12T00:01:15.000Z", "type": "platform.runtimeDone", "record": {{
            "requestId": "{REQUEST_ID}", "status": "timeout", "errorType": "Sandbox.Timedout"}}}}"#
    ));
    assert_eq!(
        event.body,
        TelemetryBody::RuntimeDone(RuntimeDone {
            request_id: RequestId::new(REQUEST_ID),
            status: Some(PlatformStatus::Timeout),
            error_type: Some("Sandbox.Timedout".into()),
            duration_ms: None,
            produced_bytes: None,
            spans: vec![],
            tracing: None,
        })
    );
}

#[test]
fn report_with_init_duration() {
    let event = parse_one(&format!(
        r#"{{"time": "2022-10-12T00:01:15.000Z", "type": "platform.report", "record": {{
            "metrics": {{"billedDurationMs": 694, "durationMs": 693.92, "initDurationMs": 397.68,
                        "maxMemoryUsedMB": 84, "memorySizeMB": 128}},
            "requestId": "{REQUEST_ID}", "status": "success",
            "spans": [{{"name": "extensionOverhead", "start": "2022-08-02T12:01:23.521Z", "durationMs": 3.5}}]}}}}"#
    ));
    assert_eq!(
        event,
        TelemetryEvent {
            time: at_ms(1_665_532_875_000),
            body: TelemetryBody::Report(Report {
                request_id: RequestId::new(REQUEST_ID),
                status: Some(PlatformStatus::Success),
                error_type: None,
                metrics: ReportMetrics {
                    duration_ms: Some(693.92),
                    billed_duration_ms: Some(694),
                    memory_size_mb: Some(128),
                    max_memory_used_mb: Some(84),
                    init_duration_ms: Some(397.68),
                    restore_duration_ms: None,
                },
                spans: vec![PlatformSpan {
                    name: "extensionOverhead".into(),
                    start: at_ms(1_659_441_683_521),
                    duration_ms: 3.5,
                }],
                tracing: None,
                tenant_id: None,
            }),
        }
    );
}

#[test]
fn function_string_record() {
    let event = parse_one(
        r#"{"time": "2022-10-12T00:03:50.000Z", "type": "function",
            "record": "[INFO] Hello world, I am a function!"}"#,
    );
    assert_eq!(
        event,
        TelemetryEvent {
            time: at_ms(1_665_533_030_000),
            body: TelemetryBody::Log {
                source: LogSource::Function,
                message: "[INFO] Hello world, I am a function!".into(),
                level: None,
                request_id: None,
            },
        }
    );
}

#[test]
fn function_json_record() {
    let event = parse_one(&format!(
        r#"{{"time": "2022-10-12T00:03:50.000Z", "type": "function", "record": {{
            "timestamp": "2022-10-12T00:03:50.000Z", "level": "INFO", "requestId": "{REQUEST_ID}",
            "message": "Hello world, I am a function!", "logger": "root"}}}}"#
    ));
    assert_eq!(
        event.body,
        TelemetryBody::Log {
            source: LogSource::Function,
            message: "Hello world, I am a function!".into(),
            level: Some("INFO".into()),
            request_id: Some(RequestId::new(REQUEST_ID)),
        }
    );
}

#[test]
fn function_json_record_with_a_structured_message_keeps_the_whole_record() {
    let event = parse_one(
        r#"{"time": "2022-10-12T00:03:50.000Z", "type": "function", "record": {
            "level": "WARN", "message": {"order": 7}}}"#,
    );
    let TelemetryBody::Log { message, level, .. } = event.body else {
        panic!("not a log: {event:?}");
    };
    assert_eq!(level.as_deref(), Some("WARN"));
    let reparsed: Value =
        serde_json::from_str(&message).expect("the message is the record as JSON");
    assert_eq!(reparsed, json!({"level": "WARN", "message": {"order": 7}}));
}

#[test]
fn extension_string_record() {
    let event = parse_one(
        r#"{"time": "2022-10-12T00:03:50.000Z", "type": "extension",
            "record": "[INFO] Hello world, I am an extension!"}"#,
    );
    assert_eq!(
        event.body,
        TelemetryBody::Log {
            source: LogSource::Extension,
            message: "[INFO] Hello world, I am an extension!".into(),
            level: None,
            request_id: None,
        }
    );
}

#[test]
fn logs_dropped() {
    let event = parse_one(
        r#"{"time": "2022-10-12T00:02:35.000Z", "type": "platform.logsDropped", "record": {
            "droppedBytes": 12345, "droppedRecords": 123,
            "reason": "Consumer seems to have fallen behind as it has not acknowledged receipt of logs."}}"#,
    );
    assert_eq!(
        event,
        TelemetryEvent {
            time: at_ms(1_665_532_955_000),
            body: TelemetryBody::LogsDropped {
                dropped_bytes: Some(12345),
                dropped_records: Some(123),
                reason: Some(
                    "Consumer seems to have fallen behind as it has not acknowledged receipt of logs."
                        .into()
                ),
            },
        }
    );
}

#[test]
fn telemetry_subscription_and_extension_are_kept_as_other() {
    let subscription = parse_one(
        r#"{"time": "2022-10-12T00:02:35.000Z", "type": "platform.telemetrySubscription", "record": {
            "name": "my-telemetry-extension", "state": "Subscribed", "types": ["platform", "function"]}}"#,
    );
    assert_eq!(
        subscription,
        TelemetryEvent {
            time: at_ms(1_665_532_955_000),
            body: TelemetryBody::Other {
                kind: "platform.telemetrySubscription".into(),
                record: json!({"name": "my-telemetry-extension", "state": "Subscribed",
                    "types": ["platform", "function"]}),
            },
        }
    );
    let extension = parse_one(
        r#"{"time": "2022-10-12T00:02:15.000Z", "type": "platform.extension", "record": {
            "events": ["INVOKE", "SHUTDOWN"], "name": "my-telemetry-extension", "state": "Ready"}}"#,
    );
    assert_eq!(
        extension.body,
        TelemetryBody::Other {
            kind: "platform.extension".into(),
            record: json!({"events": ["INVOKE", "SHUTDOWN"], "name": "my-telemetry-extension",
                "state": "Ready"}),
        }
    );
}

#[test]
fn unknown_future_type_is_kept_as_other() {
    let event = parse_one(
        r#"{"time": "2030-01-01T00:00:00.000Z", "type": "platform.somethingNew", "record": [1, "two"]}"#,
    );
    assert_eq!(
        event.body,
        TelemetryBody::Other {
            kind: "platform.somethingNew".into(),
            record: json!([1, "two"]),
        }
    );
}

#[test]
fn malformed_elements_are_skipped_and_counted_without_failing_the_batch() {
    let body = format!(
        r#"[{{"time": "2022-10-12T00:03:50.000Z", "type": "function", "record": "first"}},
            42,
            {{"time": "2022-10-12T00:03:50.000Z", "record": "no type"}},
            {{"time": "2022-10-12T00:03:50.000Z", "type": "platform.start", "record": "not an object"}},
            {{"time": "2022-10-12T00:03:50.000Z", "type": "platform.report", "record": {{"status": "success"}}}},
            {{"time": "2022-10-12T00:03:51.000Z", "type": "platform.start", "record": {{"requestId": "{REQUEST_ID}"}}}}]"#
    );
    let (events, skipped) = parse_batch(body.as_bytes());
    assert_eq!(skipped, 4);
    assert_eq!(
        events,
        vec![
            TelemetryEvent {
                time: at_ms(1_665_533_030_000),
                body: TelemetryBody::Log {
                    source: LogSource::Function,
                    message: "first".into(),
                    level: None,
                    request_id: None,
                },
            },
            TelemetryEvent {
                time: at_ms(1_665_533_031_000),
                body: TelemetryBody::Start(Start {
                    request_id: RequestId::new(REQUEST_ID),
                    version: None,
                    tracing: None,
                    tenant_id: None,
                }),
            },
        ]
    );
}

#[test]
fn a_body_that_is_not_an_array_is_one_skipped_element() {
    let single = br#"{"time": "2022-10-12T00:03:50.000Z", "type": "function", "record": "alone"}"#;
    assert_eq!(parse_batch(single), (vec![], 1));
    assert_eq!(parse_batch(b"[{\"type\": \"function\""), (vec![], 1));
    assert_eq!(parse_batch(b""), (vec![], 1));
    assert_eq!(parse_batch(b"[]"), (vec![], 0));
}

// ---------------------------------------------------------------------------------------------
// The delivery listener

/// A listener on an ephemeral port serving into a queue of `capacity` events; returns its port.
async fn start_listener(capacity: usize) -> (u16, BatchReceiver) {
    let listener = telemetry::bind_listener(0).await.expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    assert_eq!(
        addr.ip(),
        Ipv4Addr::UNSPECIFIED,
        "the platform may not post via loopback"
    );
    let (tx, rx) = telemetry::queue(capacity);
    tokio::spawn(telemetry::serve(listener, tx));
    (addr.port(), rx)
}

/// POSTs `body` to the listener like the platform does; returns the status and the answer's body.
async fn deliver(
    client: &PlatformClient,
    port: u16,
    body: impl Into<Bytes>,
) -> (StatusCode, Bytes) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://127.0.0.1:{port}/"))
        .header("Content-Type", "application/json")
        .body(ApiBody::local(body))
        .expect("delivery request");
    let resp = tokio::time::timeout(PATIENCE, client.request(req))
        .await
        .expect("the listener answers without waiting for the consumer")
        .expect("the listener is reachable");
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("answer body")
        .to_bytes();
    (status, body)
}

/// A batch of `function` lines `line-<first>` .. `line-<first + n - 1>`, one ms apart.
fn log_batch(first: usize, n: usize) -> String {
    let items: Vec<Value> = (first..first + n)
        .map(|i| {
            json!({"time": format!("2022-10-12T00:03:50.{:03}Z", i % 1000), "type": "function",
                "record": format!("line-{i}")})
        })
        .collect();
    Value::Array(items).to_string()
}

fn log_messages(events: Vec<TelemetryEvent>) -> Vec<String> {
    events.iter().map(|e| log_message(e).to_owned()).collect()
}

fn log_message(event: &TelemetryEvent) -> &str {
    match &event.body {
        TelemetryBody::Log { message, .. } => message,
        other => panic!("not a log: {other:?}"),
    }
}

/// The events of the next delivery.
async fn recv(rx: &mut BatchReceiver) -> Vec<TelemetryEvent> {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("an event arrives")
        .expect("the listener keeps the channel open")
}

#[tokio::test]
async fn deliveries_are_answered_200_and_events_arrive_in_order() {
    let (port, mut rx) = start_listener(64).await;
    let client = platform_http::build();

    let (status, body) = deliver(&client, port, log_batch(0, 3)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty(), "{body:?}");
    let (status, _) = deliver(&client, port, log_batch(3, 2)).await;
    assert_eq!(status, StatusCode::OK);

    // One message per delivery, its events in order.
    let first = recv(&mut rx).await;
    let second = recv(&mut rx).await;
    assert_eq!((first.len(), second.len()), (3, 2));
    for (i, event) in (0..).zip(first.iter().chain(&second)) {
        assert_eq!(log_message(event), format!("line-{i}"));
        assert_eq!(event.time, at_ms(1_665_533_030_000 + i));
    }
    assert!(rx.try_recv().is_none(), "no extra events");
}

#[tokio::test]
async fn platform_events_and_logs_arrive_parsed() {
    let (port, mut rx) = start_listener(8).await;
    let batch = json!([
        {"time": "2022-10-12T00:00:15.064Z", "type": "platform.start",
         "record": {"requestId": REQUEST_ID, "version": "$LATEST"}},
        {"time": "2022-10-12T00:01:15.000Z", "type": "platform.runtimeDone",
         "record": {"requestId": REQUEST_ID, "status": "error", "errorType": "Runtime.Unknown"}},
    ]);
    let (status, _) = deliver(&platform_http::build(), port, batch.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let delivered = recv(&mut rx).await;
    assert_eq!(delivered.len(), 2);
    assert_eq!(
        delivered[0].body,
        TelemetryBody::Start(Start {
            request_id: RequestId::new(REQUEST_ID),
            version: Some("$LATEST".into()),
            tracing: None,
            tenant_id: None,
        })
    );
    assert_eq!(
        delivered[1].body,
        TelemetryBody::RuntimeDone(RuntimeDone {
            request_id: RequestId::new(REQUEST_ID),
            status: Some(PlatformStatus::Error),
            error_type: Some("Runtime.Unknown".into()),
            duration_ms: None,
            produced_bytes: None,
            spans: vec![],
            tracing: None,
        })
    );
}

#[tokio::test]
async fn an_oversize_batch_is_refused_with_413_and_the_listener_carries_on() {
    let (port, mut rx) = start_listener(8).await;
    let client = platform_http::build();
    let before = telemetry::oversize_batches();

    let (status, _) = deliver(&client, port, vec![b' '; telemetry::MAX_BATCH_BYTES + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Only this test sends oversize bodies in this binary, so the count is exact.
    assert_eq!(telemetry::oversize_batches() - before, 1);
    assert!(
        rx.try_recv().is_none(),
        "nothing of a refused batch is queued"
    );

    // Exactly the limit is accepted.
    let batch = log_batch(0, 1);
    let mut at_limit = batch.into_bytes();
    at_limit.resize(telemetry::MAX_BATCH_BYTES, b' ');
    let (status, _) = deliver(&client, port, at_limit).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log_messages(recv(&mut rx).await), ["line-0"]);
}

#[tokio::test]
async fn a_full_queue_still_gets_200_and_drops_are_counted() {
    let (port, mut rx) = start_listener(2).await;
    let client = platform_http::build();
    let before = telemetry::dropped_events();

    let (status, _) = deliver(&client, port, log_batch(0, 5)).await;
    assert_eq!(status, StatusCode::OK);
    // Only this test overfills a queue in this binary, so the count is exact.
    assert_eq!(telemetry::dropped_events() - before, 3);
    assert_eq!(log_messages(recv(&mut rx).await), ["line-0", "line-1"]);
    assert!(rx.try_recv().is_none(), "dropped events never arrive");

    // With room again, later batches flow.
    let (status, _) = deliver(&client, port, log_batch(5, 1)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log_messages(recv(&mut rx).await), ["line-5"]);
}

#[tokio::test]
async fn skipped_elements_are_counted_and_non_posts_refused() {
    let (port, mut rx) = start_listener(8).await;
    let client = platform_http::build();
    let before = telemetry::skipped_elements();

    let (status, _) = deliver(
        &client,
        port,
        r#"[7, {"type": "function", "record": "kept"}]"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(telemetry::skipped_elements() - before, 1);
    assert_eq!(log_messages(recv(&mut rx).await), ["kept"]);

    let req = Request::builder()
        .method(Method::GET)
        .uri(format!("http://127.0.0.1:{port}/"))
        .body(ApiBody::local(Bytes::new()))
        .expect("GET request");
    let resp = client.request(req).await.expect("listener reachable");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_busy_port_falls_back_to_an_ephemeral_one() {
    let taken = std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind port 0");
    let busy = taken.local_addr().expect("local addr").port();
    let listener = telemetry::bind_listener(busy)
        .await
        .expect("fallback bind succeeds");
    let addr = listener.local_addr().expect("local addr");
    assert_ne!(addr.port(), busy);
    assert_ne!(addr.port(), 0);
    assert_eq!(addr.ip(), Ipv4Addr::UNSPECIFIED);
}

// ---------------------------------------------------------------------------------------------
// The subscription

/// One request the fake platform received.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    extension_id: Option<String>,
    content_type: Option<String>,
    body: Value,
}

type Answer = fn(&str) -> (u16, &'static str);

/// A Telemetry API endpoint answering each subscription by its `schemaVersion`.
struct FakePlatform {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakePlatform {
    async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.expect("accept");
                let log = Arc::clone(&log);
                let service = service_fn(move |req: Request<Incoming>| {
                    let log = Arc::clone(&log);
                    async move {
                        let (parts, body) = req.into_parts();
                        let bytes = body.collect().await.expect("request body").to_bytes();
                        let body: Value =
                            serde_json::from_slice(&bytes).expect("the subscription is JSON");
                        let header = |name: &str| {
                            parts
                                .headers
                                .get(name)
                                .map(|v| v.to_str().expect("ASCII header").to_owned())
                        };
                        let (status, text) = answer(body["schemaVersion"].as_str().unwrap_or(""));
                        log.lock().expect("log lock").push(Received {
                            method: parts.method.clone(),
                            path: parts.uri.path().to_owned(),
                            extension_id: header("lambda-extension-identifier"),
                            content_type: header("content-type"),
                            body,
                        });
                        let mut resp =
                            Response::new(Full::new(Bytes::from_static(text.as_bytes())));
                        *resp.status_mut() = StatusCode::from_u16(status).expect("valid status");
                        Ok::<_, Infallible>(resp)
                    }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        Self { addr, received }
    }

    fn endpoint(&self) -> RuntimeApiEndpoint {
        RuntimeApiEndpoint::parse(&self.addr.to_string()).expect("host:port endpoint")
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("log lock").clone()
    }

    fn schema_versions(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| r.body["schemaVersion"].as_str().unwrap_or("?").to_owned())
            .collect()
    }
}

const EXTENSION_ID: &str = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111";
const VALIDATION_ERROR: &str =
    r#"{"errorType":"ValidationError","errorMessage":"schemaVersion is not supported"}"#;

#[tokio::test]
async fn subscribes_with_the_newest_schema_and_the_documented_request() {
    let platform = FakePlatform::start(|_| (200, "\"OK\"")).await;
    let outcome = telemetry::subscribe(
        &platform_http::build(),
        &platform.endpoint(),
        EXTENSION_ID,
        4243,
    )
    .await
    .expect("subscribed");
    assert_eq!(
        outcome,
        Subscription::Subscribed(SchemaVersion::V2025_01_29)
    );

    let received = platform.received();
    assert_eq!(received.len(), 1);
    let call = &received[0];
    assert_eq!(call.method, Method::PUT);
    assert_eq!(call.path, "/2022-07-01/telemetry");
    assert_eq!(call.extension_id.as_deref(), Some(EXTENSION_ID));
    assert_eq!(call.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        call.body,
        json!({
            "schemaVersion": "2025-01-29",
            "types": ["platform", "function", "extension"],
            "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
            "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243"},
        })
    );
}

/// Subscribes as the extension does to the Telemetry API at `api`, naming an arbitrary listener
/// port: these tests look at the subscription, not at deliveries.
async fn subscribe_at(api: &RuntimeApiEndpoint) -> Result<Subscription, SubscribeError> {
    telemetry::subscribe(&platform_http::build(), api, EXTENSION_ID, 9).await
}

#[tokio::test]
async fn a_400_falls_back_to_the_next_schema_version() {
    let platform = FakePlatform::start(|version| match version {
        "2025-01-29" => (400, VALIDATION_ERROR),
        _ => (200, "\"OK\""),
    })
    .await;
    let outcome = subscribe_at(&platform.endpoint())
        .await
        .expect("subscribed");
    assert_eq!(
        outcome,
        Subscription::Subscribed(SchemaVersion::V2022_12_13)
    );
    assert_eq!(platform.schema_versions(), ["2025-01-29", "2022-12-13"]);
    assert_eq!(SchemaVersion::V2022_12_13.as_str(), "2022-12-13");
}

#[tokio::test]
async fn the_oldest_schema_is_the_last_resort() {
    let platform = FakePlatform::start(|version| match version {
        "2022-07-01" => (200, "\"OK\""),
        _ => (400, VALIDATION_ERROR),
    })
    .await;
    let outcome = subscribe_at(&platform.endpoint())
        .await
        .expect("subscribed");
    assert_eq!(
        outcome,
        Subscription::Subscribed(SchemaVersion::V2022_07_01)
    );
    assert_eq!(
        platform.schema_versions(),
        ["2025-01-29", "2022-12-13", "2022-07-01"]
    );
}

#[tokio::test]
async fn a_400_to_every_version_is_a_rejection() {
    let platform = FakePlatform::start(|_| (400, VALIDATION_ERROR)).await;
    let err = subscribe_at(&platform.endpoint())
        .await
        .expect_err("refused");
    assert_eq!(
        err,
        SubscribeError::Rejected {
            status: 400,
            body: VALIDATION_ERROR.into()
        }
    );
    assert_eq!(platform.schema_versions().len(), 3);
}

#[tokio::test]
async fn the_aws_emulators_202_means_not_supported() {
    let platform = FakePlatform::start(|_| {
        (
            202,
            r#"{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}"#,
        )
    })
    .await;
    let outcome = subscribe_at(&platform.endpoint())
        .await
        .expect("202 is not an error");
    assert_eq!(outcome, Subscription::NotSupported);
    assert_eq!(platform.schema_versions(), ["2025-01-29"]);
}

#[tokio::test]
async fn a_403_is_rejected_without_trying_other_versions() {
    const CLOSED: &str = r#"{"errorType":"Telemetry.SubscriptionClosed","errorMessage":"Telemetry API subscription is closed"}"#;
    let platform = FakePlatform::start(|_| (403, CLOSED)).await;
    let err = subscribe_at(&platform.endpoint())
        .await
        .expect_err("refused");
    assert_eq!(
        err,
        SubscribeError::Rejected {
            status: 403,
            body: CLOSED.into()
        }
    );
    assert_eq!(
        err.to_string(),
        format!("Telemetry API refused the subscription with 403: {CLOSED}")
    );
    assert_eq!(platform.schema_versions(), ["2025-01-29"]);
}

#[tokio::test]
async fn a_base_path_in_the_endpoint_is_kept() {
    let platform = FakePlatform::start(|_| (200, "")).await;
    let endpoint = RuntimeApiEndpoint::parse(&format!("http://{}/.rt", platform.addr))
        .expect("endpoint with a base path");
    subscribe_at(&endpoint).await.expect("subscribed");
    assert_eq!(platform.received()[0].path, "/.rt/2022-07-01/telemetry");
}

#[tokio::test]
async fn an_unreachable_api_is_a_transport_error() {
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .expect("bind port 0")
        .local_addr()
        .expect("local addr")
        .port();
    let endpoint = RuntimeApiEndpoint::parse(&format!("127.0.0.1:{port}")).expect("endpoint");
    let err = subscribe_at(&endpoint).await.expect_err("nobody listens");
    let SubscribeError::Transport(detail) = &err else {
        panic!("not a transport error: {err:?}");
    };
    assert!(
        detail.to_lowercase().contains("connect"),
        "the cause is named: {detail}"
    );
}

// ---------------------------------------------------------------------------------------------
// Against the repository's Lambda sandbox: its subscription rules and deliveries are Lambda's

/// An extension that registers, publishes its id and `AWS_LAMBDA_RUNTIME_API` in `<dir>/id`, waits
/// for `<dir>/go` (the subscription window closes at its first `/event/next`), then loops on events.
const OBSERVER: &str = r#"
import http.client, json, os, sys, time
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, port = api.split(":")
def call(method, path, body, headers):
    c = http.client.HTTPConnection(host, int(port))
    c.request(method, path, body, headers)
    r = c.getresponse()
    return r.getheader("Lambda-Extension-Identifier"), r.read()
ext_id, _ = call("POST", "/2020-01-01/extension/register", json.dumps({"events": ["INVOKE", "SHUTDOWN"]}),
                 {"Lambda-Extension-Name": "observer"})
d = sys.argv[1]
with open(d + "/id.tmp", "w") as f:
    f.write(ext_id + "\n" + api)
os.rename(d + "/id.tmp", d + "/id")
deadline = time.time() + 10
while not os.path.exists(d + "/go") and time.time() < deadline:
    time.sleep(0.01)
while True:
    _, body = call("GET", "/2020-01-01/extension/event/next", None, {"Lambda-Extension-Identifier": ext_id})
    if json.loads(body).get("eventType") == "SHUTDOWN":
        break
"#;

/// A short label per event, to compare delivery order.
fn label(event: &TelemetryEvent) -> String {
    match &event.body {
        TelemetryBody::InitStart { .. } => "initStart".into(),
        TelemetryBody::InitRuntimeDone { .. } => "initRuntimeDone".into(),
        TelemetryBody::InitReport { .. } => "initReport".into(),
        TelemetryBody::RestoreStart { .. } => "restoreStart".into(),
        TelemetryBody::RestoreRuntimeDone { .. } => "restoreRuntimeDone".into(),
        TelemetryBody::RestoreReport { .. } => "restoreReport".into(),
        TelemetryBody::Start(_) => "start".into(),
        TelemetryBody::RuntimeDone(_) => "runtimeDone".into(),
        TelemetryBody::Report(_) => "report".into(),
        TelemetryBody::Log { source, .. } => format!("{source:?}"),
        TelemetryBody::LogsDropped { .. } => "logsDropped".into(),
        TelemetryBody::Other { kind, .. } => kind.clone(),
    }
}

#[tokio::test]
async fn the_sandbox_accepts_the_subscription_and_its_deliveries_parse() {
    use lambda_sandbox::{Invocation, Sandbox, SandboxConfig, ShutdownReason, TraceMode};

    let dir = std::env::temp_dir().join(format!("lens-telemetry-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("opt/extensions")).expect("opt dir");
    std::fs::create_dir_all(dir.join("task")).expect("task dir");
    std::fs::write(dir.join("observer.py"), OBSERVER).expect("write the observer");
    let launcher = dir.join("opt/extensions/observer");
    std::fs::write(
        &launcher,
        format!(
            "#!/bin/sh\nexec python3 '{0}/observer.py' '{0}'\n",
            dir.display()
        ),
    )
    .expect("write the launcher");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755))
            .expect("chmod +x");
    }
    let fake_runtime = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sandbox/tests/support/fake_runtime.py");
    let config = SandboxConfig::new(
        dir.join("task"),
        vec!["python3".into(), fake_runtime.display().to_string()],
    )
    .with_opt_dir(dir.join("opt"))
    .with_env("AWS_LAMBDA_LOG_FORMAT", "JSON")
    .quiet();
    let function_name = config.function_name.clone();

    let listener = telemetry::bind_listener(0).await.expect("bind port 0");
    let port = listener.local_addr().expect("local addr").port();
    let (tx, mut rx) = telemetry::queue(telemetry::TELEMETRY_QUEUE_CAPACITY);
    tokio::spawn(telemetry::serve(listener, tx));

    // Init blocks until the observer's first /event/next, so subscribe while it runs.
    let subscribe_during_init = async {
        let id_file = dir.join("id");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let published = loop {
            if let Ok(text) = std::fs::read_to_string(&id_file) {
                break text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the observer never registered"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let (ext_id, api) = published.split_once('\n').expect("id and API address");
        let endpoint = RuntimeApiEndpoint::parse(api).expect("AWS_LAMBDA_RUNTIME_API");
        let outcome = telemetry::subscribe(&platform_http::build(), &endpoint, ext_id, port).await;
        std::fs::write(dir.join("go"), "").expect("release the observer");
        outcome
    };
    let (sandbox, subscribed) = tokio::join!(Sandbox::start(config), subscribe_during_init);
    let sandbox = sandbox.expect("sandbox starts");
    assert_eq!(
        subscribed.expect("subscribed"),
        Subscription::Subscribed(SchemaVersion::V2025_01_29)
    );

    let invoked = sandbox
        .invoke(
            Invocation::json(&json!({"action": "print", "lines": 2, "width": 3}))
                .with_trace(TraceMode::Active),
        )
        .await;
    // The report comes after the invocation's `/event/next`, so it is delivered at the thaw for
    // SHUTDOWN.
    sandbox.shutdown(ShutdownReason::Spindown).await;
    let request_id = RequestId::new(invoked.request_id.as_str());

    let mut events = Vec::new();
    let is_report = |event: &TelemetryEvent| matches!(event.body, TelemetryBody::Report(_));
    let report = loop {
        if let Some(at) = events.iter().position(is_report) {
            break at;
        }
        events.extend(recv(&mut rx).await);
    };
    events.truncate(report + 1);
    let _ = std::fs::remove_dir_all(&dir);

    let labels: Vec<String> = events.iter().map(label).collect();
    assert_eq!(
        labels,
        [
            "initStart",
            "platform.telemetrySubscription",
            "Function",
            "initRuntimeDone",
            "platform.extension",
            "initReport",
            "start",
            "Function",
            "Function",
            "Function",
            "runtimeDone",
            "report"
        ],
        "{events:#?}"
    );
    let TelemetryBody::InitStart {
        function_name: name,
        phase,
        ..
    } = &events[0].body
    else {
        unreachable!("checked by the labels");
    };
    assert_eq!(name.as_deref(), Some(function_name.as_str()));
    assert_eq!(phase.as_deref(), Some("init"));

    let TelemetryBody::Start(Start {
        request_id: started,
        tracing,
        ..
    }) = &events[6].body
    else {
        unreachable!("checked by the labels");
    };
    assert_eq!(started, &request_id);
    let tracing = tracing.as_ref().expect("active tracing is announced");
    assert!(tracing.value.starts_with("Root=1-"), "{tracing:?}");

    // The fake runtime announces itself during init (no request id yet) and each event it handles;
    // the sandbox wraps text lines into JSON records under the JSON log format.
    let log = |message: String, request_id: Option<RequestId>| TelemetryBody::Log {
        source: LogSource::Function,
        message,
        level: Some("INFO".into()),
        request_id,
    };
    assert_eq!(events[2].body, log("fake-runtime: ready".into(), None));
    let invoke_lines = [
        format!("fake-runtime: print {request_id}"),
        "000000 xxx".into(),
        "000001 xxx".into(),
    ];
    for (event, line) in events[7..10].iter().zip(invoke_lines) {
        assert_eq!(event.body, log(line, Some(request_id.clone())));
    }

    let TelemetryBody::RuntimeDone(RuntimeDone {
        request_id: done,
        status,
        spans,
        ..
    }) = &events[10].body
    else {
        unreachable!("checked by the labels");
    };
    assert_eq!(done, &request_id);
    assert_eq!(status, &Some(PlatformStatus::Success));
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(
        names,
        ["responseLatency", "responseDuration", "runtimeOverhead"]
    );

    let TelemetryBody::Report(Report {
        request_id: reported,
        status,
        metrics,
        ..
    }) = &events[11].body
    else {
        unreachable!("checked by the labels");
    };
    assert_eq!(reported, &request_id);
    assert_eq!(status, &Some(PlatformStatus::Success));
    assert_eq!(metrics.memory_size_mb, Some(128));
    assert!(
        metrics.init_duration_ms.is_some(),
        "cold start: {metrics:?}"
    );
    assert!(metrics.billed_duration_ms.is_some(), "{metrics:?}");
}
