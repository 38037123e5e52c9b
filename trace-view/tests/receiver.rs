//! End-to-end tests of the receiver: spans recorded with the OpenTelemetry SDK are exported
//! by the real `opentelemetry-otlp` exporter over each transport and encoding, and must decode
//! to exactly the expected [`ReceivedSpan`]s; each fault mode is checked from the client side.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanId, SpanKind as OtelSpanKind, Status, TraceContextExt as _,
    TraceFlags, TraceId, TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue, StringValue, Value as OtelValue};
use opentelemetry_otlp::{
    Compression, Protocol, RetryPolicy, WithExportConfig as _, WithHttpConfig as _,
    WithTonicConfig as _,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_sdk::trace::{
    IdGenerator, InMemorySpanExporter, SdkTracerProvider, SpanData, SpanExporter as _,
};
use opentelemetry_sdk::Resource;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use trace_view::{
    Mode, ReceivedSpan, Receiver, ReceiverConfig, ReceiverHandle, RequestOutcome, SpanEvent,
    SpanKind, SpanLink, StatusCode, Transport, THROTTLE_RETRY_AFTER_S,
};

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const FIRST_SPAN_ID: u64 = 0x00f0_67aa_0ba9_0201;
const LINKED_TRACE_ID: &str = "ffeeddccbbaa99887766554433221100";
const LINKED_SPAN_ID: &str = "1122334455667788";
/// Start of the test trace: 2023-11-14T22:13:20Z.
const T0_NANOS: u64 = 1_700_000_000_000_000_000;
/// Sampled, with a known-local parent context (OTLP `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`).
const SAMPLED_LOCAL_FLAGS: u32 = 0x101;
const WAIT: Duration = Duration::from_secs(10);

/// Hands out one fixed trace id and consecutive span ids so the exported ids are known.
#[derive(Debug)]
struct FixedIds {
    next_span: AtomicU64,
}

impl IdGenerator for FixedIds {
    fn new_trace_id(&self) -> TraceId {
        TraceId::from_hex(TRACE_ID).expect("the test trace id is valid hex")
    }

    fn new_span_id(&self) -> SpanId {
        SpanId::from(self.next_span.fetch_add(1, Ordering::Relaxed))
    }
}

fn at_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(T0_NANOS + ms * 1_000_000)
}

fn span_id(offset: u64) -> String {
    format!("{:016x}", FIRST_SPAN_ID + offset)
}

fn test_resource() -> Resource {
    Resource::builder_empty()
        .with_service_name("orders")
        .with_attribute(KeyValue::new("cloud.provider", "aws"))
        .build()
}

/// Records a three-span trace (invoke → handler → dynamodb.query) with the SDK.
fn record_trace() -> Vec<SpanData> {
    let memory = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(memory.clone())
        .with_id_generator(FixedIds {
            next_span: AtomicU64::new(FIRST_SPAN_ID),
        })
        .build();
    let tracer = provider.tracer("lambda-lens-test");

    let mut invoke = tracer
        .span_builder("invoke")
        .with_kind(OtelSpanKind::Server)
        .with_start_time(at_ms(0))
        .with_attributes([
            KeyValue::new("faas.invocation_id", "abc-123"),
            KeyValue::new("faas.trigger", "http"),
            KeyValue::new("faas.coldstart", true),
            KeyValue::new("http.route", "/orders"),
            KeyValue::new("http.response.status_code", 200_i64),
            KeyValue::new("memory.ratio", 0.5),
            KeyValue::new(
                "tags",
                OtelValue::Array(vec![StringValue::from("a"), StringValue::from("b")].into()),
            ),
        ])
        .start(&tracer);
    invoke.set_status(Status::Ok);
    let invoke_cx = Context::current_with_span(invoke);

    let mut handler = tracer
        .span_builder("handler")
        .with_start_time(at_ms(10))
        .with_attributes([KeyValue::new("error.type", "Timeout")])
        .start_with_context(&tracer, &invoke_cx);
    handler.add_event_with_timestamp(
        "exception",
        at_ms(50),
        vec![KeyValue::new("exception.message", "boom")],
    );
    handler.set_status(Status::error("boom"));
    let handler_cx = invoke_cx.with_span(handler);

    let linked = SpanContext::new(
        TraceId::from_hex(LINKED_TRACE_ID).expect("the linked trace id is valid hex"),
        SpanId::from_hex(LINKED_SPAN_ID).expect("the linked span id is valid hex"),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let mut query = tracer
        .span_builder("dynamodb.query")
        .with_kind(OtelSpanKind::Client)
        .with_start_time(at_ms(20))
        .with_links(vec![Link::new(
            linked,
            vec![KeyValue::new("link.kind", "follows")],
            0,
        )])
        .start_with_context(&tracer, &handler_cx);
    query.end_with_timestamp(at_ms(40));
    handler_cx.span().end_with_timestamp(at_ms(70));
    invoke_cx.span().end_with_timestamp(at_ms(120));

    memory
        .get_finished_spans()
        .expect("the in-memory exporter returns the finished spans")
}

fn attributes(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect()
}

/// The spans of [`record_trace`] as the receiver must decode them, in start order.
fn expected_spans() -> Vec<ReceivedSpan> {
    let base = ReceivedSpan {
        resource: attributes(&[
            ("cloud.provider", json!("aws")),
            ("service.name", json!("orders")),
        ]),
        scope_name: "lambda-lens-test".to_owned(),
        trace_id: TRACE_ID.to_owned(),
        span_id: span_id(0),
        parent_span_id: None,
        name: "invoke".to_owned(),
        kind: SpanKind::Server,
        start_unix_nanos: T0_NANOS,
        end_unix_nanos: T0_NANOS + 120_000_000,
        status_code: StatusCode::Ok,
        status_message: String::new(),
        attributes: attributes(&[
            ("faas.coldstart", json!(true)),
            ("faas.invocation_id", json!("abc-123")),
            ("faas.trigger", json!("http")),
            ("http.response.status_code", json!(200)),
            ("http.route", json!("/orders")),
            ("memory.ratio", json!(0.5)),
            ("tags", json!(["a", "b"])),
        ]),
        events: Vec::new(),
        links: Vec::new(),
        flags: SAMPLED_LOCAL_FLAGS,
    };
    let handler = ReceivedSpan {
        span_id: span_id(1),
        parent_span_id: Some(span_id(0)),
        name: "handler".to_owned(),
        kind: SpanKind::Internal,
        start_unix_nanos: T0_NANOS + 10_000_000,
        end_unix_nanos: T0_NANOS + 70_000_000,
        status_code: StatusCode::Error,
        status_message: "boom".to_owned(),
        attributes: attributes(&[("error.type", json!("Timeout"))]),
        events: vec![SpanEvent {
            name: "exception".to_owned(),
            time_unix_nanos: T0_NANOS + 50_000_000,
            attributes: attributes(&[("exception.message", json!("boom"))]),
        }],
        ..base.clone()
    };
    let query = ReceivedSpan {
        span_id: span_id(2),
        parent_span_id: Some(span_id(1)),
        name: "dynamodb.query".to_owned(),
        kind: SpanKind::Client,
        start_unix_nanos: T0_NANOS + 20_000_000,
        end_unix_nanos: T0_NANOS + 40_000_000,
        status_code: StatusCode::Unset,
        attributes: BTreeMap::new(),
        links: vec![SpanLink {
            trace_id: LINKED_TRACE_ID.to_owned(),
            span_id: LINKED_SPAN_ID.to_owned(),
            attributes: attributes(&[("link.kind", json!("follows"))]),
            // Sampled, and the context is known to be remote (OTLP's `SpanFlags` bits 8 and 9).
            flags: 0x301,
            trace_state: String::new(),
        }],
        ..base.clone()
    };
    vec![base, handler, query]
}

/// How a test exporter talks to the receiver.
#[derive(Debug, Clone, Copy)]
enum Wire {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

/// The real OTLP exporter pointed at `receiver`, with an `x-api-key` header, no retries
/// (so each export is exactly one request) and the given compression and timeout.
fn exporter(
    receiver: &ReceiverHandle,
    wire: Wire,
    compression: Option<Compression>,
    timeout: Duration,
) -> opentelemetry_otlp::SpanExporter {
    let mut exporter = match wire {
        Wire::HttpProtobuf | Wire::HttpJson => {
            let protocol = match wire {
                Wire::HttpJson => Protocol::HttpJson,
                _ => Protocol::HttpBinary,
            };
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(receiver.http_traces_url())
                .with_protocol(protocol)
                .with_timeout(timeout)
                .with_retry_policy(RetryPolicy::disabled())
                .with_headers(HashMap::from([(
                    "x-api-key".to_owned(),
                    "secret".to_owned(),
                )]));
            if let Some(compression) = compression {
                builder = builder.with_compression(compression);
            }
            builder.build()
        }
        Wire::Grpc => {
            let mut metadata = tonic::metadata::MetadataMap::new();
            metadata.insert("x-api-key", "secret".parse().expect("a valid header value"));
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(receiver.grpc_endpoint())
                .with_timeout(timeout)
                .with_retry_policy(RetryPolicy::disabled())
                .with_metadata(metadata);
            if let Some(compression) = compression {
                builder = builder.with_compression(compression);
            }
            builder.build()
        }
    }
    .expect("the test exporter configuration is valid");
    exporter.set_resource(&test_resource());
    exporter
}

fn start() -> ReceiverHandle {
    Receiver::start(ReceiverConfig::default()).expect("the receiver binds loopback ports")
}

fn sorted(mut spans: Vec<ReceivedSpan>) -> Vec<ReceivedSpan> {
    spans.sort_by_key(|span| span.start_unix_nanos);
    spans
}

/// Exports the test trace over `wire` and checks spans and request metadata exactly.
async fn assert_round_trip(wire: Wire, compression: Option<Compression>) {
    let receiver = start();
    let exporter = exporter(&receiver, wire, compression, WAIT);
    exporter
        .export(record_trace())
        .await
        .expect("the receiver acknowledges the export");

    let spans = receiver
        .wait_for_spans(3, WAIT)
        .await
        .expect("all three spans arrive");
    assert_eq!(sorted(spans), expected_spans());

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "one export is one request: {requests:?}");
    let request = &requests[0];
    assert_eq!(request.span_count, 3);
    assert_eq!(request.outcome, RequestOutcome::Accepted);
    assert_eq!(
        request.headers.get("x-api-key").map(String::as_str),
        Some("secret")
    );
    let gzip = compression.map(|_| "gzip");
    let content_type = request.content_type.as_deref();
    match wire {
        Wire::HttpProtobuf | Wire::HttpJson => {
            assert_eq!(request.transport, Transport::Http);
            assert_eq!(request.path, "/v1/traces");
            assert_eq!(request.content_encoding.as_deref(), gzip);
            let expected_type = match wire {
                Wire::HttpJson => "application/json",
                _ => "application/x-protobuf",
            };
            assert_eq!(content_type, Some(expected_type));
        }
        Wire::Grpc => {
            assert_eq!(request.transport, Transport::Grpc);
            assert_eq!(
                request.path,
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
            );
            assert_eq!(request.content_encoding.as_deref(), gzip);
            assert!(
                content_type.is_some_and(|value| value.starts_with("application/grpc")),
                "unexpected gRPC content type {content_type:?}"
            );
        }
    }
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_round_trip() {
    assert_round_trip(Wire::HttpProtobuf, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_gzip_round_trip() {
    assert_round_trip(Wire::HttpProtobuf, Some(Compression::Gzip)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_json_round_trip() {
    assert_round_trip(Wire::HttpJson, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_round_trip() {
    assert_round_trip(Wire::Grpc, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_gzip_round_trip() {
    assert_round_trip(Wire::Grpc, Some(Compression::Gzip)).await;
}

/// Sends a bodiless HTTP/1.1 request and returns the status line.
async fn raw_http_status(receiver: &ReceiverHandle, method: &str, path: &str) -> String {
    raw_http_response(receiver, method, path)
        .await
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The whole answer (head and body) to an empty request.
async fn raw_http_response(receiver: &ReceiverHandle, method: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(receiver.http_addr())
        .await
        .expect("the HTTP port accepts connections");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/x-protobuf\r\n\
         content-length: 0\r\nconnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("the request is written");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("the response is read to the end");
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_paths_and_methods() {
    let receiver = Receiver::start(ReceiverConfig {
        extra_http_path: Some("/custom/ingest".to_owned()),
        ..ReceiverConfig::default()
    })
    .expect("the receiver binds loopback ports");
    let cases = [
        ("POST", "/v1/traces", "HTTP/1.1 200 OK"),
        ("POST", "/otlp/v1/traces", "HTTP/1.1 200 OK"),
        ("POST", "/custom/ingest", "HTTP/1.1 200 OK"),
        ("POST", "/v1/metrics", "HTTP/1.1 200 OK"),
        ("POST", "/v1/logs", "HTTP/1.1 200 OK"),
        ("POST", "/v1/profiles", "HTTP/1.1 404 Not Found"),
        ("GET", "/v1/traces", "HTTP/1.1 405 Method Not Allowed"),
    ];
    for (method, path, expected) in cases {
        assert_eq!(
            raw_http_status(&receiver, method, path).await,
            expected,
            "{method} {path}"
        );
    }
    // Five accepted empty exports, nothing in them.
    assert_eq!(receiver.requests().len(), 5);
    assert!(receiver.spans().is_empty());
    assert!(receiver.logs().is_empty() && receiver.metrics().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_spans_takes_a_predicate_and_clear_forgets() {
    let receiver = start();
    let exporter = exporter(&receiver, Wire::HttpProtobuf, None, WAIT);
    exporter
        .export(record_trace())
        .await
        .expect("the receiver acknowledges the export");
    let spans = receiver
        .wait_for_spans(
            |spans: &[ReceivedSpan]| spans.iter().any(|span| span.name == "dynamodb.query"),
            WAIT,
        )
        .await
        .expect("the query span arrives");
    assert_eq!(spans.len(), 3);

    receiver.clear();
    assert!(receiver.spans().is_empty() && receiver.requests().is_empty());
    let error = receiver
        .wait_for_spans(1, Duration::from_millis(100))
        .await
        .expect_err("nothing arrives after clear");
    assert!(error.to_string().contains("timed out"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_answers_503_and_unavailable() {
    let receiver = start();
    receiver
        .set_mode(Mode::Refuse)
        .await
        .expect("refusing needs no rebinding");
    assert_eq!(
        raw_http_status(&receiver, "POST", "/v1/traces").await,
        "HTTP/1.1 503 Service Unavailable"
    );

    let mut client = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .expect("the gRPC port accepts connections");
    let status = client
        .export(ExportTraceServiceRequest::default())
        .await
        .expect_err("the export is refused");
    assert_eq!(status.code(), tonic::Code::Unavailable);

    for wire in [Wire::HttpProtobuf, Wire::Grpc] {
        exporter(&receiver, wire, None, WAIT)
            .export(record_trace())
            .await
            .expect_err("the exporter sees the refusal");
    }
    let outcomes: Vec<(Transport, RequestOutcome)> = receiver
        .requests()
        .into_iter()
        .map(|request| (request.transport, request.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Transport::Http, RequestOutcome::Refused),
            (Transport::Grpc, RequestOutcome::Refused),
            (Transport::Http, RequestOutcome::Refused),
            (Transport::Grpc, RequestOutcome::Refused),
        ]
    );
    assert!(receiver.spans().is_empty(), "refused spans are not stored");

    receiver
        .set_mode(Mode::Normal)
        .await
        .expect("back to normal");
    exporter(&receiver, Wire::Grpc, None, WAIT)
        .export(record_trace())
        .await
        .expect("accepted again");
    assert_eq!(receiver.spans().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_answers_429_with_retry_after_and_reject_answers_400() {
    let receiver = start();
    let mut client = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .expect("the gRPC port accepts connections");
    for (mode, status_line, code) in [
        (
            Mode::Throttle,
            "HTTP/1.1 429 Too Many Requests",
            tonic::Code::ResourceExhausted,
        ),
        (
            Mode::Reject,
            "HTTP/1.1 400 Bad Request",
            tonic::Code::InvalidArgument,
        ),
    ] {
        receiver.set_mode(mode).await.expect("no rebinding needed");
        let response = raw_http_response(&receiver, "POST", "/v1/traces").await;
        assert_eq!(response.lines().next(), Some(status_line), "{response}");
        let retry_after = response
            .lines()
            .find_map(|line| line.strip_prefix("retry-after: "));
        let expected = (mode == Mode::Throttle).then(|| THROTTLE_RETRY_AFTER_S.to_string());
        assert_eq!(retry_after.map(str::to_owned), expected, "{response}");
        let status = client
            .export(ExportTraceServiceRequest::default())
            .await
            .expect_err("the export is not taken");
        assert_eq!(status.code(), code);
    }
    let outcomes: Vec<RequestOutcome> = receiver
        .requests()
        .into_iter()
        .map(|request| request.outcome)
        .collect();
    let rejected = RequestOutcome::Rejected {
        reason: "rejecting exports (test mode)".to_owned(),
    };
    assert_eq!(
        outcomes,
        [
            RequestOutcome::Refused,
            RequestOutcome::Refused,
            rejected.clone(),
            rejected
        ]
    );
    assert!(receiver.spans().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_refuses_connections_and_comes_back_on_the_same_ports() {
    let receiver = start();
    let (http_addr, grpc_addr) = (receiver.http_addr(), receiver.grpc_addr());
    // Exporters created before the outage keep their (pooled) connections and must reconnect.
    let http = exporter(&receiver, Wire::HttpProtobuf, None, WAIT);
    let grpc = exporter(&receiver, Wire::Grpc, None, WAIT);
    http.export(record_trace())
        .await
        .expect("up before the outage");
    grpc.export(record_trace())
        .await
        .expect("up before the outage");

    receiver
        .set_mode(Mode::Down)
        .await
        .expect("going down always works");
    for addr in [http_addr, grpc_addr] {
        let error = TcpStream::connect(addr)
            .await
            .expect_err("nothing listens while down");
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "{addr}"
        );
    }
    http.export(record_trace())
        .await
        .expect_err("HTTP export fails while down");
    grpc.export(record_trace())
        .await
        .expect_err("gRPC export fails while down");

    receiver
        .set_mode(Mode::Normal)
        .await
        .expect("the same ports re-bind");
    assert_eq!(
        (receiver.http_addr(), receiver.grpc_addr()),
        (http_addr, grpc_addr)
    );
    http.export(record_trace()).await.expect("HTTP works again");
    // tonic backs off before reconnecting; give it a few attempts.
    let mut attempts = 0;
    while let Err(error) = grpc.export(record_trace()).await {
        attempts += 1;
        assert!(attempts < 20, "gRPC never reconnected: {error}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let spans = receiver
        .wait_for_spans(12, WAIT)
        .await
        .expect("four exports arrive");
    assert_eq!(spans.len(), 12);
    assert!(receiver
        .requests()
        .iter()
        .all(|request| request.outcome == RequestOutcome::Accepted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_holds_requests_until_the_mode_changes() {
    let receiver = start();
    receiver
        .set_mode(Mode::Hang)
        .await
        .expect("hanging needs no rebinding");

    let held: Vec<_> = [Wire::HttpProtobuf, Wire::Grpc]
        .into_iter()
        .map(|wire| {
            let exporter = exporter(&receiver, wire, None, WAIT);
            tokio::spawn(async move { exporter.export(record_trace()).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        held.iter().all(|task| !task.is_finished()),
        "exports must be held"
    );
    assert!(
        receiver.requests().is_empty(),
        "held requests are not answered yet"
    );

    receiver.set_mode(Mode::Normal).await.expect("released");
    for task in held {
        task.await
            .expect("the export task does not panic")
            .expect("the held export succeeds once released");
    }
    assert_eq!(receiver.spans().len(), 6);

    // A client that gives up first sees its own timeout.
    receiver.set_mode(Mode::Hang).await.expect("hanging again");
    exporter(
        &receiver,
        Wire::HttpProtobuf,
        None,
        Duration::from_millis(300),
    )
    .export(record_trace())
    .await
    .expect_err("the exporter times out while the receiver hangs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_see_every_new_span() {
    let receiver = start();
    let mut incoming = receiver.subscribe();
    exporter(&receiver, Wire::Grpc, Some(Compression::Gzip), WAIT)
        .export(record_trace())
        .await
        .expect("the receiver acknowledges the export");
    let mut names = Vec::new();
    for _ in 0..3 {
        let span = tokio::time::timeout(WAIT, incoming.recv())
            .await
            .expect("a span arrives in time")
            .expect("the stream is open while the receiver runs");
        names.push(span.name);
    }
    names.sort();
    assert_eq!(names, ["dynamodb.query", "handler", "invoke"]);
}

#[test]
fn starting_outside_a_runtime_is_an_error() {
    let error = Receiver::start(ReceiverConfig::default()).expect_err("no runtime, no receiver");
    assert!(
        matches!(error, trace_view::ReceiverError::NoRuntime),
        "{error}"
    );
}
