//! The invocation span's parent end to end: the real extension binary as a layer in the local
//! sandbox, the Python example function, and receivers that decode what was exported. A single SQS
//! message's context is the parent (its `AWSTraceHeader` under `xray`, its `traceparent` under
//! `tracecontext`) and Lambda's X-Ray context a link; with the X-Ray export target, Lambda's X-Ray
//! context stays the parent and the message's becomes the link, sent SigV4-signed over HTTPS.

use std::path::Path;

use lambda_sandbox::{Invocation, Sandbox, SandboxConfig, ShutdownReason, Status};
use serde_json::json;
use trace_view::{ReceivedSpan, Receiver, ReceiverConfig, SpanKind};

use lambda_lens_test_support::containment::assert_contained;
use lambda_lens_test_support::events;
use lambda_lens_test_support::layer::build_layer;
use lambda_lens_test_support::sandbox::python_sandbox_config;
use lambda_lens_test_support::xray_receiver::{self, XrayReceiver};

/// This build's extension binary, installed in each test's layer.
const LAMBDA_LENS: &str = env!("CARGO_BIN_EXE_lambda-lens");

const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:orders";
const MESSAGE_ID: &str = "059f36b4-87a3-44ab-83d2-661975830a7d";

/// Lambda's X-Ray context for the invocation, and its ids.
const LAMBDA_XRAY: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const LAMBDA_TRACE: &str = "5759e988bd862e3fe1be46a994272793";
const LAMBDA_SPAN: &str = "53995c3f42cd8ad8";

/// The producer's X-Ray context as SQS hands it over (`attributes.AWSTraceHeader`), and its ids.
const MESSAGE_XRAY: &str =
    "Root=1-6759e988-bd862e3fe1be46a994272794;Parent=63995c3f42cd8ad9;Sampled=1";
const MESSAGE_XRAY_TRACE: &str = "6759e988bd862e3fe1be46a994272794";
const MESSAGE_XRAY_SPAN: &str = "63995c3f42cd8ad9";

/// The producer's W3C context (`messageAttributes.traceparent`), and its ids.
const MESSAGE_TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const MESSAGE_W3C_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const MESSAGE_W3C_SPAN: &str = "b7ad6b7169203331";

/// A link as compared here: trace id, span id, sampled, and its one attribute (key and value).
type LinkView = (String, String, bool, String, serde_json::Value);

/// An SQS event of one message carrying the given contexts.
fn single_message(xray: Option<&str>, traceparent: Option<&str>) -> Vec<u8> {
    events::sqs_event(&[events::sqs_record(
        QUEUE_ARN,
        MESSAGE_ID,
        "hello",
        xray,
        traceparent,
    )])
}

/// Starts a sandbox with the layer at `opt` and `config`'s changes, invokes `event` under
/// [`LAMBDA_XRAY`], shuts the sandbox down and returns the request id.
async fn invoke_once(
    opt: &Path,
    config: impl FnOnce(SandboxConfig) -> SandboxConfig,
    event: Vec<u8>,
) -> String {
    let sandbox = Sandbox::start(config(python_sandbox_config(opt)))
        .await
        .expect("sandbox starts");
    let out = sandbox
        .invoke(Invocation::new(event).with_trace_header(LAMBDA_XRAY))
        .await;
    assert_eq!(out.status, Status::Success, "{}", out.body_text());
    let shutdown = sandbox.shutdown(ShutdownReason::Spindown).await;
    assert_eq!(
        shutdown.process("lambda-lens").and_then(|p| p.code),
        Some(0)
    );
    std::fs::remove_dir_all(opt).expect("layer removed");
    out.request_id.to_string()
}

/// Invokes `event` with `env` set, exporting over OTLP, and returns every span received and the
/// invocation span.
async fn over_otlp(
    name: &str,
    env: &[(&str, &str)],
    event: Vec<u8>,
) -> (Vec<ReceivedSpan>, ReceivedSpan) {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("OTLP receiver starts");
    let opt = build_layer(LAMBDA_LENS, name);
    let endpoint = receiver.http_endpoint();
    let request_id = invoke_once(
        &opt,
        |config| {
            env.iter().fold(
                config.with_env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
                |config, (key, value)| config.with_env(*key, *value),
            )
        },
        event,
    )
    .await;
    let spans = receiver.spans();
    let invocation = invocation_of(&spans, &request_id);
    (spans, invocation)
}

/// The CONSUMER span of the invocation `request_id`.
fn invocation_of(spans: &[ReceivedSpan], request_id: &str) -> ReceivedSpan {
    spans
        .iter()
        .find(|s| {
            s.kind == SpanKind::Consumer
                && s.attributes.get("faas.invocation_id") == Some(&json!(request_id))
        })
        .cloned()
        .unwrap_or_else(|| panic!("no invocation span for {request_id}: {spans:#?}"))
}

/// `span`'s links as (trace id, span id, sampled, attribute key, attribute value).
fn links(span: &ReceivedSpan) -> Vec<LinkView> {
    span.links
        .iter()
        .map(|link| {
            assert_eq!(link.attributes.len(), 1, "{link:?}");
            let (key, value) = link.attributes.iter().next().expect("one attribute");
            (
                link.trace_id.clone(),
                link.span_id.clone(),
                link.flags & 1 == 1,
                key.clone(),
                value.clone(),
            )
        })
        .collect()
}

/// A link to the context the parent choice left over, read by `source`.
fn choice_link(trace: &str, span: &str, source: &str) -> LinkView {
    (
        trace.into(),
        span.into(),
        true,
        "lambda_lens.link.source".into(),
        json!(source),
    )
}

/// The link to the message's producer.
fn message_link(trace: &str, span: &str) -> LinkView {
    (
        trace.into(),
        span.into(),
        true,
        "messaging.message.id".into(),
        json!(MESSAGE_ID),
    )
}

/// The shape every test here expects of the invocation span and its trace: a consumer of one
/// message whose parent is `(trace, parent)`, remote, with the cold start beside it.
fn assert_consumer_of_one_message(
    spans: &[ReceivedSpan],
    invocation: &ReceivedSpan,
    trace: &str,
    parent: &str,
) {
    assert_contained(spans);
    assert_eq!(invocation.name, "process orders");
    assert_eq!(
        invocation.attributes["messaging.batch.message_count"],
        json!(1)
    );
    assert_eq!(invocation.trace_id, trace);
    assert_eq!(invocation.parent_span_id.as_deref(), Some(parent));
    assert!(invocation.parent_is_remote());
    let mut in_trace: Vec<(&str, Option<&str>)> = spans
        .iter()
        .map(|s| (s.name.as_str(), s.parent_span_id.as_deref()))
        .collect();
    in_trace.sort_unstable();
    let own = Some(invocation.span_id.as_str());
    assert_eq!(
        in_trace,
        [
            ("init", Some(parent)),
            ("process orders", Some(parent)),
            ("responseDuration", own),
            ("responseLatency", own),
            ("runtimeOverhead", own),
        ]
    );
    assert!(spans.iter().all(|s| s.trace_id == trace), "{spans:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_messages_xray_header_is_the_parent_under_the_xray_propagator() {
    let (spans, invocation) = over_otlp(
        "message-xray",
        &[("OTEL_PROPAGATORS", "xray,xray-lambda")],
        single_message(Some(MESSAGE_XRAY), None),
    )
    .await;
    assert_consumer_of_one_message(&spans, &invocation, MESSAGE_XRAY_TRACE, MESSAGE_XRAY_SPAN);
    assert_eq!(
        links(&invocation),
        [
            choice_link(LAMBDA_TRACE, LAMBDA_SPAN, "xray-lambda"),
            message_link(MESSAGE_XRAY_TRACE, MESSAGE_XRAY_SPAN),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_messages_traceparent_is_the_parent_by_default() {
    let (spans, invocation) = over_otlp(
        "message-w3c",
        &[],
        single_message(None, Some(MESSAGE_TRACEPARENT)),
    )
    .await;
    assert_consumer_of_one_message(&spans, &invocation, MESSAGE_W3C_TRACE, MESSAGE_W3C_SPAN);
    assert_eq!(
        links(&invocation),
        [
            choice_link(LAMBDA_TRACE, LAMBDA_SPAN, "xray-lambda"),
            message_link(MESSAGE_W3C_TRACE, MESSAGE_W3C_SPAN),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_xray_target_keeps_lambdas_context_as_parent_and_signs_for_xray() {
    let xray = XrayReceiver::start().await;
    let opt = build_layer(LAMBDA_LENS, "xray-target");
    let request_id = invoke_once(
        &opt,
        |mut config| {
            config.region = xray_receiver::REGION.to_owned();
            config.credentials = Some(xray_receiver::credentials());
            xray.exporter_env()
                .into_iter()
                .fold(config, |config, (key, value)| config.with_env(key, value))
        },
        single_message(None, Some(MESSAGE_TRACEPARENT)),
    )
    .await;

    // Every signal went here (none to AWS), each signed for its endpoint's service.
    let received = xray.received();
    for request in &received {
        assert_eq!(request.verdict, Ok(()), "{}", request.path);
    }
    let traces: Vec<_> = received.iter().filter(|r| r.path == "/v1/traces").collect();
    assert!(!traces.is_empty(), "X-Ray received the spans");
    for request in &traces {
        let authorization = request.header("authorization");
        assert!(
            authorization.contains(&format!("/{}/xray/aws4_request, ", xray_receiver::REGION)),
            "{authorization}"
        );
        assert_eq!(request.header("content-type"), "application/x-protobuf");
    }
    let spans: Vec<ReceivedSpan> = traces.iter().flat_map(|r| r.received_spans()).collect();
    let invocation = invocation_of(&spans, &request_id);
    assert_consumer_of_one_message(&spans, &invocation, LAMBDA_TRACE, LAMBDA_SPAN);
    assert_eq!(
        links(&invocation),
        [
            choice_link(MESSAGE_W3C_TRACE, MESSAGE_W3C_SPAN, "tracecontext"),
            message_link(MESSAGE_W3C_TRACE, MESSAGE_W3C_SPAN),
        ]
    );
}
