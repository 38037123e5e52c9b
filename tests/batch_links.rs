//! Batch invocations end to end: the real extension binary in the local sandbox relays SQS and
//! Kinesis batches to the Python example function, and the OTLP receiver decodes the CONSUMER span
//! with one link per record context, however far into the event the contexts lie.

use std::path::Path;
use std::time::Duration;

use lambda_sandbox::{Invocation, Sandbox, SandboxConfig, ShutdownReason, Status};
use serde_json::{json, Value};
use trace_view::{ReceivedSpan, Receiver, ReceiverConfig, ReceiverHandle, SpanKind};

use lambda_lens_test_support::containment::assert_contained;
use lambda_lens_test_support::events;
use lambda_lens_test_support::layer::build_layer;
use lambda_lens_test_support::sandbox::python_sandbox_config;

/// This build's extension binary, installed in each test's layer.
const LAMBDA_LENS: &str = env!("CARGO_BIN_EXE_lambda-lens");

const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:orders";
const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks";

/// Producer contexts: (X-Ray header, trace id, span id, sampled).
const XRAY: [(&str, &str, &str, bool); 3] = [
    (
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "5759e988bd862e3fe1be46a994272793",
        "53995c3f42cd8ad8",
        true,
    ),
    (
        "Root=1-6759e988-bd862e3fe1be46a994272794;Parent=63995c3f42cd8ad9;Sampled=0",
        "6759e988bd862e3fe1be46a994272794",
        "63995c3f42cd8ad9",
        false,
    ),
    (
        "Root=1-7759e988-bd862e3fe1be46a994272795;Parent=73995c3f42cd8ada;Sampled=1",
        "7759e988bd862e3fe1be46a994272795",
        "73995c3f42cd8ada",
        true,
    ),
];
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn config(opt: &Path, endpoint: &str) -> SandboxConfig {
    python_sandbox_config(opt).with_env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
}

fn receiver() -> ReceiverHandle {
    Receiver::start(ReceiverConfig::default()).expect("OTLP receiver starts")
}

/// An SQS record from [`QUEUE_ARN`].
fn sqs_record(id: &str, body: &str, xray: Option<&str>, traceparent: Option<&str>) -> String {
    events::sqs_record(QUEUE_ARN, id, body, xray, traceparent)
}

/// A Kinesis record with `data` (base64) and no context.
fn kinesis_record(sequence: usize, data: &str) -> Value {
    json!({
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1", "sequenceNumber": sequence.to_string(), "data": data, "approximateArrivalTimestamp": 1545084650.987},
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-000000000006:{sequence}"),
        "eventName": "aws:kinesis:record",
        "eventSourceARN": STREAM_ARN,
        "awsRegion": "us-east-1"
    })
}

async fn span_of(receiver: &ReceiverHandle, request_id: &str) -> ReceivedSpan {
    let spans = receiver
        .wait_for_spans(
            |spans: &[ReceivedSpan]| {
                spans
                    .iter()
                    .any(|s| s.attributes.get("faas.invocation_id") == Some(&json!(request_id)))
            },
            Duration::from_secs(10),
        )
        .await
        .expect("the invocation span arrives");
    assert_contained(&spans);
    spans
        .into_iter()
        .find(|s| s.attributes.get("faas.invocation_id") == Some(&json!(request_id)))
        .expect("the invocation span")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_consumer_spans_linked_to_each_record_and_other_events_are_not() {
    let receiver = receiver();
    let opt = build_layer(LAMBDA_LENS, "batch-links");
    let sandbox = Sandbox::start(config(&opt, &receiver.http_endpoint()))
        .await
        .expect("sandbox starts");

    // Three records with distinct X-Ray headers; the second also carries a traceparent, which
    // the default OTEL_PROPAGATORS order prefers.
    let sqs = events::sqs_event(&[
        sqs_record("m-0", "a", Some(XRAY[0].0), None),
        sqs_record("m-1", "b", Some(XRAY[1].0), Some(TRACEPARENT)),
        sqs_record("m-2", "c", Some(XRAY[2].0), None),
    ]);
    let out = sandbox.invoke(Invocation::new(sqs)).await;
    assert_eq!(out.status, Status::Success);
    let span = span_of(&receiver, &out.request_id.to_string()).await;
    assert_eq!(span.kind, SpanKind::Consumer);
    assert_eq!(span.name, "process orders");
    assert!(
        span.parent_span_id.is_none(),
        "a local root without a parent"
    );
    assert_eq!(
        span.attributes["messaging.operation.name"],
        json!("process")
    );
    assert_eq!(
        span.attributes["messaging.operation.type"],
        json!("process")
    );
    assert_eq!(
        span.attributes["messaging.destination.name"],
        json!("orders")
    );
    assert_eq!(span.attributes["messaging.batch.message_count"], json!(3));
    let links: Vec<_> = span
        .links
        .iter()
        .map(|l| {
            (
                l.trace_id.as_str(),
                l.span_id.as_str(),
                l.flags & 1 == 1,
                l.attributes["messaging.message.id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        links,
        [
            (XRAY[0].1, XRAY[0].2, XRAY[0].3, json!("m-0")),
            (
                "0af7651916cd43dd8448eb211c80319c",
                "b7ad6b7169203331",
                true,
                json!("m-1")
            ),
            (XRAY[2].1, XRAY[2].2, XRAY[2].3, json!("m-2")),
        ]
    );

    // A ~6 MB SQS batch whose only contexts are in its last records, far past the captured head:
    // read as the event streams through the proxy.
    let filler = "x".repeat(240 * 1024);
    let mut records: Vec<String> = (0..24)
        .map(|i| sqs_record(&format!("f-{i}"), &filler, None, None))
        .collect();
    records.push(sqs_record("last-0", "a", Some(XRAY[0].0), None));
    records.push(sqs_record("last-1", "b", Some(XRAY[2].0), None));
    let big = events::sqs_event(&records);
    assert!(big.len() > 5_900_000, "{}", big.len());
    let out = sandbox.invoke(Invocation::new(big)).await;
    assert_eq!(out.status, Status::Success);
    let span = span_of(&receiver, &out.request_id.to_string()).await;
    assert_eq!(span.kind, SpanKind::Consumer);
    assert_eq!(span.attributes["messaging.batch.message_count"], json!(26));
    let ids: Vec<_> = span.links.iter().map(|l| l.span_id.as_str()).collect();
    assert_eq!(ids, [XRAY[0].2, XRAY[2].2]);

    // A Kinesis batch: CONSUMER, named after its stream, no context to link.
    let kinesis =
        json!({"Records": [kinesis_record(1, "SGVsbG8="), kinesis_record(2, "SGVsbG8=")]});
    let out = sandbox.invoke(Invocation::json(&kinesis)).await;
    let span = span_of(&receiver, &out.request_id.to_string()).await;
    assert_eq!(
        (span.kind, span.name.as_str()),
        (SpanKind::Consumer, "process clicks")
    );
    assert!(span.links.is_empty());

    // Not a batch: a SERVER span, no links.
    let out = sandbox
        .invoke(Invocation::json(
            &json!({"name": "plain", "Records": "not a batch"}),
        ))
        .await;
    let span = span_of(&receiver, &out.request_id.to_string()).await;
    assert_eq!(span.kind, SpanKind::Server);
    assert!(span.links.is_empty());
    assert!(!span.attributes.contains_key("messaging.operation.name"));

    sandbox.shutdown(ShutdownReason::Spindown).await;
    std::fs::remove_dir_all(&opt).expect("layer removed");
}
