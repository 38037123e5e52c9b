//! Direct X-Ray export against the local HTTPS receiver that plays X-Ray's OTLP endpoint
//! ([`xray_receiver`]: SigV4 checked independently of the exporter's signer, 403 to a bad
//! signature, OTLP protobuf decoded). Configuration goes through lookup functions, never the
//! process environment.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use prost::Message;

use lambda_lens::export::{
    Exporter, LogEntry, TraceIds, TRUNCATION_MARKER, XRAY_MAX_BATCH_SPANS, XRAY_MAX_REQUEST_BYTES,
    XRAY_MAX_SPAN_BYTES,
};
use lambda_lens::settings::{Destination, ExportSettings, ExportTarget, SettingsGroup, Transport};
use lambda_lens::trace_context::new_xray_trace_id;
use lambda_lens_test_support::xray_receiver::{
    hex, Received, XrayReceiver, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, SESSION_TOKEN,
};

const BUDGET: Duration = Duration::from_secs(30);

/// A log record with an empty body, captured at `time_unix_nano`.
fn log_entry(time_unix_nano: u64) -> LogEntry {
    LogEntry {
        time_unix_nano,
        observed_time_unix_nano: 0,
        severity: SeverityNumber::Unspecified,
        severity_text: "".into(),
        body: String::new(),
        attributes: Vec::new(),
        trace: None,
    }
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([KeyValue::new("service.name", "orders-fn")])
        .build()
}

/// A finished span with an X-Ray-compatible trace id, started a second ago.
fn span(index: u64, attributes: Vec<KeyValue>) -> SpanData {
    let now = SystemTime::now();
    SpanData {
        span_context: SpanContext::new(
            new_xray_trace_id(now),
            SpanId::from(index + 1),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Server,
        name: format!("invoke-{index}").into(),
        start_time: now - Duration::from_secs(1),
        end_time: now,
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("lambda-lens").build(),
    }
}

fn small_spans(count: u64) -> Vec<SpanData> {
    (0..count)
        .map(|index| span(index, vec![KeyValue::new("faas.coldstart", index == 0)]))
        .collect()
}

/// An X-Ray exporter pointed at `receiver` (trusted through `OTEL_EXPORTER_OTLP_CERTIFICATE`)
/// with the test credentials, `extra` variables overriding.
/// An exporter as on Lambda, where extensions get neither the log group nor the log stream: the
/// group is the default one of the function `orders-fn`, the stream is not known yet.
fn exporter_on_lambda(receiver: &XrayReceiver) -> Exporter {
    xray_exporter(
        receiver,
        &roomy_settings(),
        &[("AWS_LAMBDA_FUNCTION_NAME", "orders-fn")],
    )
}

fn xray_exporter(
    receiver: &XrayReceiver,
    settings: &ExportSettings,
    extra: &[(&str, &str)],
) -> Exporter {
    let mut vars: HashMap<String, String> = receiver
        .exporter_env()
        .into_iter()
        .chain([
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
            ("AWS_SESSION_TOKEN", SESSION_TOKEN.to_owned()),
        ])
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    for (name, value) in extra {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    let settings = ExportSettings {
        destination: Destination::from_lookup(|name| vars.get(name).cloned()).0,
        ..settings.clone()
    };
    Exporter::new(&settings, resource())
        .expect("the X-Ray configuration is complete")
        .expect("the exporter is enabled")
}

/// Settings for tests that queue and send many spans at once.
fn roomy_settings() -> ExportSettings {
    ExportSettings {
        queue_capacity: 30_000,
        flush_timeout: BUDGET,
        ..ExportSettings::default()
    }
}

fn span_names(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .flat_map(Received::spans)
        .map(|span| span.name)
        .collect()
}

#[tokio::test]
async fn signed_https_export_arrives_and_the_signature_verifies() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(&receiver, &roomy_settings(), &[]);
    assert_eq!(exporter.target(), ExportTarget::Xray);
    assert_eq!(exporter.transport(), Some(Transport::HttpProtobuf));
    assert_eq!(exporter.endpoint(), Some(receiver.endpoint().as_str()));

    let sent = small_spans(3);
    let trace_ids: Vec<String> = sent
        .iter()
        .map(|span| span.span_context.trace_id().to_string())
        .collect();
    exporter.enqueue(sent);
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    assert_eq!(outcome.exported, 3);
    assert_eq!(exporter.queued(), 0);

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.verdict, Ok(()));
    assert_eq!(request.header("x-amz-security-token"), SESSION_TOKEN);
    assert_eq!(
        request.header("host"),
        format!("localhost:{}", receiver.port())
    );
    assert_eq!(request.header("content-type"), "application/x-protobuf");
    assert!(!request.headers.contains_key("content-encoding"));
    assert!(
        request.header("authorization").contains(
            "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
        ),
        "{}",
        request.header("authorization")
    );
    assert_eq!(span_names(&received), ["invoke-0", "invoke-1", "invoke-2"]);

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after the epoch")
        .as_secs();
    for (span, sent_id) in request.spans().iter().zip(&trace_ids) {
        let trace_id = hex(&span.trace_id);
        assert_eq!(&trace_id, sent_id);
        // X-Ray-compatible: the first 32 bits are the epoch second the trace started.
        let epoch = u64::from_str_radix(&trace_id[..8], 16).expect("hex digits");
        assert!(
            now - epoch < 60,
            "trace id {trace_id} does not start with now's epoch"
        );
    }
}

#[tokio::test]
async fn gzip_bodies_are_signed_as_sent_with_content_encoding() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(
        &receiver,
        &roomy_settings(),
        &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")],
    );
    exporter.enqueue(small_spans(5));
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.error, None, "{outcome:?}");

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].verdict, Ok(()));
    assert_eq!(received[0].header("content-encoding"), "gzip");
    assert!(received[0].header("authorization").contains(
        "SignedHeaders=content-encoding;content-type;host;x-amz-date;x-amz-security-token,"
    ));
    assert_ne!(
        received[0].body.as_ref(),
        received[0].plain_body().as_slice(),
        "the signed payload is the compressed body"
    );
    assert_eq!(span_names(&received).len(), 5);
}

#[tokio::test]
async fn grpc_is_replaced_by_http_protobuf() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(
        &receiver,
        &roomy_settings(),
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
    );
    assert_eq!(exporter.transport(), Some(Transport::HttpProtobuf));
    exporter.enqueue(small_spans(1));
    assert_eq!(exporter.flush(BUDGET).await.error, None);
    assert_eq!(receiver.received()[0].verdict, Ok(()));
}

#[tokio::test]
async fn wrong_credentials_are_rejected_with_403_and_the_spans_requeued() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(
        &receiver,
        &roomy_settings(),
        &[("AWS_SECRET_ACCESS_KEY", "not-the-secret")],
    );
    exporter.enqueue(small_spans(4));
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.exported, 0, "{outcome:?}");
    assert_eq!(outcome.requeued, 4);
    assert_eq!(exporter.queued(), 4);
    let error = outcome.error.expect("a rejected flush says why");
    assert!(error.contains("403"), "{error}");

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let verdict = received[0]
        .verdict
        .as_ref()
        .expect_err("the signature is wrong");
    assert!(verdict.starts_with("signature "), "{verdict}");
}

#[tokio::test]
async fn without_the_certificate_file_the_test_ca_is_not_trusted() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(
        &receiver,
        &roomy_settings(),
        &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")],
    );
    exporter.enqueue(small_spans(2));
    let outcome = exporter.flush(Duration::from_secs(5)).await;
    assert!(outcome.error.is_some(), "{outcome:?}");
    assert_eq!(exporter.queued(), 2, "the spans wait for the next flush");
    assert!(receiver.received().is_empty(), "the TLS handshake failed");
}

#[tokio::test]
async fn twenty_five_thousand_spans_go_in_three_requests() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(&receiver, &roomy_settings(), &[]);
    exporter.enqueue(small_spans(25_000));
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    assert_eq!(outcome.exported, 25_000);

    let received = receiver.received();
    let counts: Vec<usize> = received
        .iter()
        .map(|request| request.spans().len())
        .collect();
    assert_eq!(counts, [XRAY_MAX_BATCH_SPANS, XRAY_MAX_BATCH_SPANS, 5_000]);
    assert!(received.iter().all(|request| request.verdict.is_ok()));
    let names = span_names(&received);
    assert_eq!(names.first().map(String::as_str), Some("invoke-0"));
    assert_eq!(names.last().map(String::as_str), Some("invoke-24999"));
}

#[tokio::test]
async fn batches_over_five_megabytes_are_split() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(&receiver, &roomy_settings(), &[]);
    // 40 spans of about 150 KB each: 6 MB in all, each span under the 200 KB span limit.
    let spans: Vec<SpanData> = (0..40)
        .map(|index| span(index, vec![KeyValue::new("payload", "x".repeat(150_000))]))
        .collect();
    exporter.enqueue(spans);
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    assert_eq!(outcome.exported, 40);

    let received = receiver.received();
    assert_eq!(received.len(), 2, "6 MB needs two requests of at most 5 MB");
    for request in &received {
        let size = request.plain_body().len();
        assert!(size <= XRAY_MAX_REQUEST_BYTES, "a request of {size} bytes");
        // Filled up to the limit, not split needlessly small.
        assert!(request.spans().len() > 1);
    }
    assert_eq!(span_names(&received).len(), 40);
    assert_eq!(exporter.dropped().spans, 0);
}

#[tokio::test]
async fn an_oversized_span_has_its_longest_attribute_truncated() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(&receiver, &roomy_settings(), &[]);
    let mut big = span(
        0,
        vec![
            KeyValue::new("http.request.body", "é".repeat(150_000)),
            KeyValue::new("faas.invocation_id", "request-0"),
        ],
    );
    big.events.events.push(opentelemetry::trace::Event::new(
        "log",
        SystemTime::now(),
        vec![KeyValue::new("message", "m".repeat(50_000))],
        0,
    ));
    exporter.enqueue(vec![big]);
    assert_eq!(exporter.dropped().spans, 0);
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.error, None, "{outcome:?}");

    let spans = receiver.received()[0].spans();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert!(
        span.encoded_len() <= XRAY_MAX_SPAN_BYTES,
        "{} bytes",
        span.encoded_len()
    );
    let string_attribute = |attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
                            key: &str| {
        attributes
            .iter()
            .find(|attribute| attribute.key == key)
            .and_then(|attribute| attribute.value.as_ref())
            .and_then(|value| match &value.value {
                Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                    text,
                )) => Some(text.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("a string attribute {key}"))
    };
    let body = string_attribute(&span.attributes, "http.request.body");
    assert!(
        body.ends_with(TRUNCATION_MARKER),
        "the longest value is cut"
    );
    assert!(body.len() > 100_000, "only as much as needed is cut");
    assert_eq!(
        string_attribute(&span.attributes, "faas.invocation_id"),
        "request-0"
    );
    assert_eq!(
        string_attribute(&span.events[0].attributes, "message"),
        "m".repeat(50_000),
        "the shorter event attribute is left alone"
    );
}

#[tokio::test]
async fn a_span_too_large_to_truncate_is_dropped_and_counted() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(&receiver, &roomy_settings(), &[]);
    let mut huge = span(0, Vec::new());
    huge.name = "n".repeat(250_000).into();
    let mut spans = vec![huge];
    spans.extend(small_spans(2));
    exporter.enqueue(spans);
    assert_eq!(exporter.dropped().spans, 1);
    assert_eq!(exporter.queued(), 2);
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    assert_eq!(span_names(&receiver.received()), ["invoke-0", "invoke-1"]);
}

#[tokio::test]
async fn log_records_go_to_cloudwatch_logs_signed_for_service_logs() {
    use lambda_lens::export::SCOPE_NAME;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
    use opentelemetry_proto::tonic::logs::v1::LogRecord;

    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(
        &receiver,
        &roomy_settings(),
        &[
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/orders-fn"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]0123"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ],
    );
    assert!(exporter.logs_enabled());
    let record = LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        severity_number: 17,
        severity_text: "ERROR".to_owned(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue("boom".to_owned())),
        }),
        trace_id: vec![7; 16],
        span_id: vec![9; 8],
        ..LogRecord::default()
    };
    exporter.enqueue_logs(vec![LogEntry {
        severity: SeverityNumber::Error,
        severity_text: "ERROR".into(),
        body: "boom".to_owned(),
        trace: Some(TraceIds {
            trace_id: TraceId::from_bytes([7; 16]),
            span_id: SpanId::from_bytes([9; 8]),
            sampled: false,
        }),
        ..log_entry(1_700_000_000_000_000_000)
    }]);
    assert_eq!(exporter.queued(), 1);

    let outcome = exporter.flush(BUDGET).await;

    assert_eq!(outcome.logs.error, None, "{outcome:?}");
    assert_eq!(outcome.logs.exported, 1);
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.path, "/v1/logs");
    assert_eq!(request.verdict, Ok(()), "signed for service logs");
    assert!(request
        .header("authorization")
        .contains("/logs/aws4_request"));
    assert_eq!(request.header("x-aws-log-group"), "/aws/lambda/orders-fn");
    assert_eq!(
        request.header("x-aws-log-stream"),
        "2026/01/01/[$LATEST]0123"
    );
    let decoded = ExportLogsServiceRequest::decode(request.plain_body().as_slice())
        .expect("an OTLP logs export request");
    let resource_logs = &decoded.resource_logs[0];
    let scope_logs = &resource_logs.scope_logs[0];
    assert_eq!(
        scope_logs.scope.as_ref().map(|scope| scope.name.as_str()),
        Some(SCOPE_NAME)
    );
    assert_eq!(scope_logs.log_records, [record]);
    assert_eq!(
        resource_logs
            .resource
            .as_ref()
            .map(|resource| resource.attributes[0].key.as_str()),
        Some("service.name")
    );
}

#[tokio::test]
async fn on_lambda_log_records_wait_for_the_environments_own_stream() {
    // Lambda passes extensions neither AWS_LAMBDA_LOG_GROUP_NAME nor AWS_LAMBDA_LOG_STREAM_NAME:
    // the group is the function's default, the stream the one platform.initStart names.
    let receiver = XrayReceiver::start().await;
    let mut exporter = exporter_on_lambda(&receiver);
    exporter.enqueue_logs(vec![LogEntry {
        trace: Some(TraceIds {
            trace_id: TraceId::from_bytes([7; 16]),
            span_id: SpanId::from_bytes([9; 8]),
            sampled: false,
        }),
        ..log_entry(1_700_000_000_000_000_000)
    }]);
    assert_eq!(exporter.queued(), 0, "held, not waiting for the collector");
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.logs.exported, 0);
    assert!(receiver.received().is_empty());

    exporter.set_log_stream(Some("2026/12/07/[$LATEST]0a1b2c"));
    assert_eq!(exporter.queued(), 1);
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.logs.exported, 1, "{outcome:?}");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].verdict, Ok(()));
    assert_eq!(
        received[0].header("x-aws-log-group"),
        "/aws/lambda/orders-fn"
    );
    assert_eq!(
        received[0].header("x-aws-log-stream"),
        "2026/12/07/[$LATEST]0a1b2c"
    );
}

#[tokio::test]
async fn without_a_stream_from_the_platform_log_export_stops_instead_of_piling_up() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = exporter_on_lambda(&receiver);
    assert!(exporter.logs_enabled());
    // An older Telemetry API schema: platform.initStart names no instance.
    exporter.set_log_stream(None);
    assert!(!exporter.logs_enabled());
    exporter.enqueue_logs(vec![log_entry(0)]);
    assert_eq!(exporter.queued(), 0);
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.logs.exported, 0);
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn a_snapstart_restore_moves_log_records_to_the_restored_environments_stream() {
    let send_one = |exporter: &mut lambda_lens::export::Exporter| {
        exporter.enqueue_logs(vec![log_entry(1_700_000_000_000_000_000)]);
    };
    let receiver = XrayReceiver::start().await;
    let mut exporter = exporter_on_lambda(&receiver);
    // The snapshot's init named its stream; the restored environment has its own.
    exporter.set_log_stream(Some("2026/12/07/[3]snapshot"));
    send_one(&mut exporter);
    assert_eq!(exporter.flush(BUDGET).await.logs.exported, 1);
    exporter.set_restored_log_stream("2026/12/07/[3]restored");
    send_one(&mut exporter);
    assert_eq!(exporter.flush(BUDGET).await.logs.exported, 1);
    let streams: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("x-aws-log-stream").to_owned())
        .collect();
    assert_eq!(
        streams,
        ["2026/12/07/[3]snapshot", "2026/12/07/[3]restored"]
    );

    // A stream that is not a valid header value changes nothing.
    exporter.set_restored_log_stream("bad\nstream");
    send_one(&mut exporter);
    assert_eq!(exporter.flush(BUDGET).await.logs.exported, 1);
    assert_eq!(
        receiver.received()[2].header("x-aws-log-stream"),
        "2026/12/07/[3]restored"
    );

    // Records still held (no stream known yet) go to the restored environment's.
    let receiver = XrayReceiver::start().await;
    let mut exporter = exporter_on_lambda(&receiver);
    send_one(&mut exporter);
    assert_eq!(exporter.queued(), 0, "held");
    exporter.set_restored_log_stream("2026/12/07/[3]restored");
    assert_eq!(exporter.flush(BUDGET).await.logs.exported, 1);
    assert_eq!(
        receiver.received()[0].header("x-aws-log-stream"),
        "2026/12/07/[3]restored"
    );

    // A configured stream stays.
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(
        &receiver,
        &roomy_settings(),
        &[
            ("AWS_LAMBDA_FUNCTION_NAME", "orders-fn"),
            ("LAMBDA_LENS_CLOUDWATCH_LOG_STREAM", "configured"),
        ],
    );
    exporter.set_restored_log_stream("2026/12/07/[3]restored");
    send_one(&mut exporter);
    assert_eq!(exporter.flush(BUDGET).await.logs.exported, 1);
    assert_eq!(
        receiver.received()[0].header("x-aws-log-stream"),
        "configured"
    );
}
