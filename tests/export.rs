//! The OTLP exporter against a real OTLP receiver (trace-view): what arrives over OTLP/HTTP and
//! OTLP/gRPC, how the `OTEL_EXPORTER_OTLP_*` variables are honoured, and what the queue does
//! when the collector is down, hangs or refuses.
//!
//! Configuration is passed through lookup functions, never the process environment, so the tests
//! can run in parallel. Every listener binds port 0.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use trace_view::{
    Mode, ReceivedSpan, Receiver, ReceiverConfig, ReceiverHandle, RequestOutcome, StatusCode,
    Transport as WireTransport,
};

use lambda_lens::export::{ExportError, Exporter, MAX_BATCH_SPANS};
use lambda_lens::settings::{
    Destination, ExportSettings, SettingsGroup, Transport, DEFAULT_FLUSH_TIMEOUT,
    DEFAULT_QUEUE_CAPACITY,
};
use lambda_lens_test_support::export_pause::wait_for_the_pause;

const TRACE_ID: u128 = 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c;
const TRACE_ID_HEX: &str = "0af7651916cd43dd8448eb211c80319c";
const START_SECS: u64 = 1_700_000_000;
/// Budget for flushes that are expected to fail; short, to keep the tests quick.
const FAILING_BUDGET: Duration = Duration::from_millis(300);
/// Allowed lateness of a flush past its budget (timer and scheduling on a busy machine).
const SLACK: Duration = Duration::from_millis(50);
/// Budget for flushes that are expected to succeed.
const GENEROUS_BUDGET: Duration = Duration::from_secs(5);
const WAIT: Duration = Duration::from_secs(5);

/// A finished span with fixed ids and content; `index` makes its span id and name unique.
fn span(index: u64) -> SpanData {
    let start = UNIX_EPOCH + Duration::from_secs(START_SECS) + Duration::from_millis(index);
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(TRACE_ID),
            SpanId::from(index + 1),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::from(0xdead_beef_u64),
        parent_span_is_remote: true,
        span_kind: SpanKind::Server,
        name: format!("invoke-{index}").into(),
        start_time: start,
        end_time: start + Duration::from_millis(250),
        attributes: vec![
            KeyValue::new("faas.invocation_id", format!("request-{index}")),
            KeyValue::new("faas.coldstart", index == 0),
            KeyValue::new(
                "index",
                i64::try_from(index).expect("test indices are small"),
            ),
        ],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::error("handler failed"),
        instrumentation_scope: InstrumentationScope::builder("lambda-lens").build(),
    }
}

fn spans(indices: std::ops::Range<u64>) -> Vec<SpanData> {
    indices.map(span).collect()
}

fn nanos(time: SystemTime) -> u64 {
    u64::try_from(
        time.duration_since(UNIX_EPOCH)
            .expect("test times are after the epoch")
            .as_nanos(),
    )
    .expect("test times fit in u64 nanoseconds")
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "orders-fn"),
            KeyValue::new("faas.name", "orders-fn"),
        ])
        .build()
}

/// Asserts that `received` is exactly what [`span`]`(index)` sent, resource included.
fn assert_span(received: &ReceivedSpan, index: u64) {
    let sent = span(index);
    assert_eq!(received.trace_id, TRACE_ID_HEX);
    assert_eq!(received.span_id, format!("{:016x}", index + 1));
    assert_eq!(received.parent_span_id.as_deref(), Some("00000000deadbeef"));
    assert_eq!(received.name, format!("invoke-{index}"));
    assert_eq!(received.kind, trace_view::SpanKind::Server);
    assert_eq!(received.start_unix_nanos, nanos(sent.start_time));
    assert_eq!(received.end_unix_nanos, nanos(sent.end_time));
    assert_eq!(received.status_code, StatusCode::Error);
    assert_eq!(received.status_message, "handler failed");
    assert_eq!(
        received.attributes,
        [
            (
                "faas.invocation_id".to_owned(),
                json!(format!("request-{index}"))
            ),
            ("faas.coldstart".to_owned(), json!(index == 0)),
            ("index".to_owned(), json!(index)),
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(received.scope_name, "lambda-lens");
    assert_eq!(received.resource["service.name"], json!("orders-fn"));
    assert_eq!(received.resource["faas.name"], json!("orders-fn"));
}

fn span_ids(spans: &[ReceivedSpan]) -> Vec<String> {
    spans.iter().map(|span| span.span_id.clone()).collect()
}

fn expected_ids(indices: std::ops::Range<u64>) -> Vec<String> {
    indices.map(|index| format!("{:016x}", index + 1)).collect()
}

/// Builds an exporter sending where `vars` alone say (the process environment is not consulted),
/// with the queue and flush settings of `settings`.
fn exporter_with(settings: &ExportSettings, vars: &[(&str, String)]) -> Exporter {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    let settings = ExportSettings {
        destination: Destination::from_lookup(|name| vars.get(name).cloned()).0,
        ..settings.clone()
    };
    Exporter::new(&settings, resource())
        .expect("the test configuration is valid")
        .expect("the exporter is enabled")
}

fn http_exporter(receiver: &ReceiverHandle) -> Exporter {
    exporter_with(
        &ExportSettings::default(),
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint())],
    )
}

fn grpc_exporter(receiver: &ReceiverHandle) -> Exporter {
    exporter_with(
        &ExportSettings::default(),
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint()),
        ],
    )
}

fn start_receiver() -> ReceiverHandle {
    Receiver::start(ReceiverConfig::default()).expect("the receiver binds loopback port 0")
}

async fn set_mode(receiver: &ReceiverHandle, mode: Mode) {
    receiver
        .set_mode(mode)
        .await
        .expect("the receiver re-binds its own ports");
}

/// Flushes with [`FAILING_BUDGET`] and checks it failed in time, keeping all `queued` spans.
async fn assert_failing_flush(exporter: &mut Exporter, queued: usize) -> String {
    let outcome = exporter.flush(FAILING_BUDGET).await;
    assert!(
        outcome.elapsed <= FAILING_BUDGET + SLACK,
        "the flush took {:?}",
        outcome.elapsed
    );
    assert_eq!(outcome.exported, 0, "{outcome:?}");
    assert_eq!(outcome.requeued, queued, "{outcome:?}");
    assert_eq!(exporter.queued(), queued);
    outcome.error.expect("a failed flush says why")
}

#[tokio::test]
async fn http_protobuf_delivers_the_exact_span_content() {
    let receiver = start_receiver();
    let mut exporter = http_exporter(&receiver);
    assert_eq!(exporter.transport(), Some(Transport::HttpProtobuf));
    assert_eq!(
        exporter.endpoint(),
        Some(receiver.http_traces_url().as_str())
    );

    exporter.enqueue(spans(0..2));
    let outcome = exporter.flush(GENEROUS_BUDGET).await;

    assert_eq!(outcome.exported, 2, "{outcome:?}");
    assert_eq!(outcome.requeued, 0);
    assert_eq!(outcome.error, None);
    assert_eq!(exporter.queued(), 0);
    let received = receiver
        .wait_for_spans(2, WAIT)
        .await
        .expect("spans arrive");
    assert_eq!(received.len(), 2);
    assert_span(&received[0], 0);
    assert_span(&received[1], 1);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].transport, WireTransport::Http);
    assert_eq!(requests[0].path, "/v1/traces");
    assert_eq!(
        requests[0].content_type.as_deref(),
        Some("application/x-protobuf")
    );
    assert_eq!(requests[0].content_encoding, None);
}

#[tokio::test]
async fn traces_endpoint_is_used_as_is() {
    let receiver = Receiver::start(ReceiverConfig {
        extra_http_path: Some("/custom/ingest".to_owned()),
        ..ReceiverConfig::default()
    })
    .expect("the receiver binds loopback port 0");
    let url = format!("{}/custom/ingest", receiver.http_endpoint());
    let mut exporter = exporter_with(
        &ExportSettings::default(),
        &[
            // The signal-specific endpoint wins; this one would be refused.
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://127.0.0.1:9".to_owned(),
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url.clone()),
        ],
    );
    assert_eq!(exporter.endpoint(), Some(url.as_str()));

    exporter.enqueue(spans(0..1));
    let outcome = exporter.flush(GENEROUS_BUDGET).await;

    assert_eq!(outcome.exported, 1, "{outcome:?}");
    let received = receiver
        .wait_for_spans(1, WAIT)
        .await
        .expect("the span arrives");
    assert_span(&received[0], 0);
    assert_eq!(receiver.requests()[0].path, "/custom/ingest");
}

#[tokio::test]
async fn headers_are_sent_percent_decoded() {
    let receiver = start_receiver();
    let mut exporter = exporter_with(
        &ExportSettings::default(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint()),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-api-key=secret,tenant=a%20b".to_owned(),
            ),
        ],
    );
    exporter.enqueue(spans(0..1));
    let outcome = exporter.flush(GENEROUS_BUDGET).await;

    assert_eq!(outcome.exported, 1, "{outcome:?}");
    let headers = &receiver.requests()[0].headers;
    assert_eq!(headers.get("x-api-key").map(String::as_str), Some("secret"));
    assert_eq!(headers.get("tenant").map(String::as_str), Some("a b"));
    assert!(
        headers
            .get("user-agent")
            .is_some_and(|agent| agent.starts_with("OTel-OTLP-Exporter-Rust/")),
        "{headers:?}"
    );
}

#[tokio::test]
async fn gzip_compression_over_http() {
    let receiver = start_receiver();
    let mut exporter = exporter_with(
        &ExportSettings::default(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint()),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".to_owned()),
        ],
    );
    exporter.enqueue(spans(0..3));
    let outcome = exporter.flush(GENEROUS_BUDGET).await;

    assert_eq!(outcome.exported, 3, "{outcome:?}");
    let received = receiver
        .wait_for_spans(3, WAIT)
        .await
        .expect("spans arrive");
    for (index, received) in (0..).zip(&received) {
        assert_span(received, index);
    }
    assert_eq!(
        receiver.requests()[0].content_encoding.as_deref(),
        Some("gzip")
    );
}

#[tokio::test]
async fn grpc_delivers_the_same_content_with_headers_and_gzip() {
    let receiver = start_receiver();
    let mut exporter = exporter_with(
        &ExportSettings::default(),
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint()),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-api-key=secret,tenant=a%20b".to_owned(),
            ),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".to_owned()),
        ],
    );
    assert_eq!(exporter.transport(), Some(Transport::Grpc));
    assert_eq!(exporter.endpoint(), Some(receiver.grpc_endpoint().as_str()));

    exporter.enqueue(spans(0..2));
    let outcome = exporter.flush(GENEROUS_BUDGET).await;

    assert_eq!(outcome.exported, 2, "{outcome:?}");
    let received = receiver
        .wait_for_spans(2, WAIT)
        .await
        .expect("spans arrive");
    assert_span(&received[0], 0);
    assert_span(&received[1], 1);
    let request = &receiver.requests()[0];
    assert_eq!(request.transport, WireTransport::Grpc);
    assert_eq!(
        request.path,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    );
    assert_eq!(request.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(
        request.headers.get("x-api-key").map(String::as_str),
        Some("secret")
    );
    assert_eq!(
        request.headers.get("tenant").map(String::as_str),
        Some("a b")
    );
}

/// Down: the flush fails fast, keeps every span, and the next flush delivers each exactly once.
async fn down_then_normal(mut exporter: Exporter, receiver: &ReceiverHandle) {
    set_mode(receiver, Mode::Down).await;
    exporter.enqueue(spans(0..5));

    assert_failing_flush(&mut exporter, 5).await;
    // A second failed attempt changes nothing either.
    assert_failing_flush(&mut exporter, 5).await;

    set_mode(receiver, Mode::Normal).await;
    let outcome = exporter.flush(GENEROUS_BUDGET).await;
    assert_eq!(outcome.exported, 5, "{outcome:?}");
    assert_eq!(outcome.requeued, 0);
    assert_eq!(exporter.queued(), 0);
    let received = receiver
        .wait_for_spans(5, WAIT)
        .await
        .expect("spans arrive");
    // Give a stray duplicate the chance to show up before checking for exactly-once.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let received_now = receiver.spans();
    assert_eq!(span_ids(&received_now), expected_ids(0..5));
    for (index, received) in (0..).zip(&received) {
        assert_span(received, index);
    }
}

#[tokio::test]
async fn http_receiver_down_requeues_then_delivers_exactly_once() {
    let receiver = start_receiver();
    let exporter = http_exporter(&receiver);
    down_then_normal(exporter, &receiver).await;
}

#[tokio::test]
async fn grpc_receiver_down_requeues_then_delivers_exactly_once() {
    let receiver = start_receiver();
    let exporter = grpc_exporter(&receiver);
    down_then_normal(exporter, &receiver).await;
}

/// Hang: the flush gives up at its budget and keeps the spans; after Normal they arrive. The
/// cancelled request may still be stored once the receiver is released (delivery is
/// at-least-once), so only the set of spans is checked.
async fn hang_then_normal(mut exporter: Exporter, receiver: &ReceiverHandle) {
    set_mode(receiver, Mode::Hang).await;
    exporter.enqueue(spans(0..3));

    let error = assert_failing_flush(&mut exporter, 3).await;
    assert!(error.contains("did not finish within"), "{error}");

    set_mode(receiver, Mode::Normal).await;
    // No request starts to the collector during its pause after a timeout.
    wait_for_the_pause(&exporter).await;
    let outcome = exporter.flush(GENEROUS_BUDGET).await;
    assert_eq!(outcome.exported, 3, "{outcome:?}");
    let expected: BTreeSet<String> = expected_ids(0..3).into_iter().collect();
    let received = receiver
        .wait_for_spans(
            |spans: &[ReceivedSpan]| {
                span_ids(spans).into_iter().collect::<BTreeSet<_>>() == expected
            },
            WAIT,
        )
        .await
        .expect("every span arrives");
    assert!(received.len() >= 3);
}

#[tokio::test]
async fn http_receiver_hang_times_out_within_budget_then_delivers() {
    let receiver = start_receiver();
    let exporter = http_exporter(&receiver);
    hang_then_normal(exporter, &receiver).await;
}

#[tokio::test]
async fn grpc_receiver_hang_times_out_within_budget_then_delivers() {
    let receiver = start_receiver();
    let exporter = grpc_exporter(&receiver);
    hang_then_normal(exporter, &receiver).await;
}

#[tokio::test]
async fn http_503_requeues() {
    let receiver = start_receiver();
    let mut exporter = http_exporter(&receiver);
    set_mode(&receiver, Mode::Refuse).await;
    exporter.enqueue(spans(0..4));

    let error = assert_failing_flush(&mut exporter, 4).await;
    assert!(error.contains("503"), "{error}");
    // Retries are off: one refused request per flush, the queue retries later.
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].outcome, RequestOutcome::Refused);

    set_mode(&receiver, Mode::Normal).await;
    let outcome = exporter.flush(GENEROUS_BUDGET).await;
    assert_eq!(outcome.exported, 4, "{outcome:?}");
    receiver
        .wait_for_spans(4, WAIT)
        .await
        .expect("spans arrive");
    assert_eq!(span_ids(&receiver.spans()), expected_ids(0..4));
}

#[tokio::test]
async fn grpc_unavailable_requeues() {
    let receiver = start_receiver();
    let mut exporter = grpc_exporter(&receiver);
    set_mode(&receiver, Mode::Refuse).await;
    exporter.enqueue(spans(0..2));

    assert_failing_flush(&mut exporter, 2).await;

    set_mode(&receiver, Mode::Normal).await;
    let outcome = exporter.flush(GENEROUS_BUDGET).await;
    assert_eq!(outcome.exported, 2, "{outcome:?}");
    receiver
        .wait_for_spans(2, WAIT)
        .await
        .expect("spans arrive");
    assert_eq!(span_ids(&receiver.spans()), expected_ids(0..2));
}

#[tokio::test]
async fn full_queue_drops_the_oldest_and_keeps_the_newest() {
    const CAPACITY: usize = 10;
    let receiver = start_receiver();
    let settings = ExportSettings {
        queue_capacity: CAPACITY,
        ..ExportSettings::default()
    };
    let mut exporter = exporter_with(
        &settings,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint())],
    );
    set_mode(&receiver, Mode::Down).await;

    let capacity = CAPACITY as u64;
    for round in 0..3 {
        exporter.enqueue(spans(round * capacity..(round + 1) * capacity));
        assert_failing_flush(&mut exporter, CAPACITY).await;
    }
    assert_eq!(exporter.queued(), CAPACITY);
    assert_eq!(exporter.dropped().spans, 2 * capacity);

    set_mode(&receiver, Mode::Normal).await;
    let outcome = exporter.flush(GENEROUS_BUDGET).await;
    assert_eq!(outcome.exported, CAPACITY, "{outcome:?}");
    receiver
        .wait_for_spans(CAPACITY, WAIT)
        .await
        .expect("spans arrive");
    assert_eq!(
        span_ids(&receiver.spans()),
        expected_ids(2 * capacity..3 * capacity)
    );
}

#[tokio::test]
async fn one_oversized_enqueue_keeps_only_the_newest() {
    let receiver = start_receiver();
    let settings = ExportSettings {
        queue_capacity: 4,
        ..ExportSettings::default()
    };
    let mut exporter = exporter_with(
        &settings,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint())],
    );
    exporter.enqueue(spans(0..3));
    exporter.enqueue(spans(3..10));
    assert_eq!(exporter.queued(), 4);
    assert_eq!(exporter.dropped().spans, 6);

    exporter.flush(GENEROUS_BUDGET).await;
    receiver
        .wait_for_spans(4, WAIT)
        .await
        .expect("spans arrive");
    assert_eq!(span_ids(&receiver.spans()), expected_ids(6..10));
}

#[tokio::test]
async fn batches_hold_at_most_512_spans() {
    let receiver = start_receiver();
    let mut exporter = http_exporter(&receiver);
    let total = 2 * MAX_BATCH_SPANS + 76;
    exporter.enqueue(spans(0..total as u64));

    let outcome = exporter.flush(GENEROUS_BUDGET).await;

    assert_eq!(outcome.exported, total, "{outcome:?}");
    let counts: Vec<usize> = receiver
        .requests()
        .iter()
        .map(|request| request.span_count)
        .collect();
    assert_eq!(counts, [MAX_BATCH_SPANS, MAX_BATCH_SPANS, 76]);
    assert_eq!(span_ids(&receiver.spans()), expected_ids(0..total as u64));
}

#[tokio::test]
async fn flush_is_capped_by_the_configured_flush_timeout() {
    let receiver = start_receiver();
    let settings = ExportSettings {
        flush_timeout: Duration::from_millis(100),
        ..ExportSettings::default()
    };
    let mut exporter = exporter_with(
        &settings,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint())],
    );
    set_mode(&receiver, Mode::Hang).await;
    exporter.enqueue(spans(0..1));

    let outcome = exporter.flush(Duration::from_secs(10)).await;

    assert!(
        outcome.elapsed <= Duration::from_millis(100) + SLACK,
        "{outcome:?}"
    );
    assert_eq!(outcome.requeued, 1);
}

#[tokio::test]
async fn empty_flush_succeeds_without_a_request() {
    let receiver = start_receiver();
    let mut exporter = http_exporter(&receiver);
    let outcome = exporter.flush(GENEROUS_BUDGET).await;
    assert_eq!(
        (outcome.exported, outcome.requeued, outcome.error),
        (0, 0, None)
    );
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn set_resource_replaces_the_resource_of_queued_spans() {
    let receiver = start_receiver();
    let mut exporter = http_exporter(&receiver);
    exporter.enqueue(spans(0..1));
    exporter.set_resource(
        Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", "orders-fn"),
                KeyValue::new("faas.instance", "2024/01/01/[$LATEST]abcdef"),
            ])
            .build(),
    );

    exporter.flush(GENEROUS_BUDGET).await;

    let received = receiver
        .wait_for_spans(1, WAIT)
        .await
        .expect("the span arrives");
    assert_eq!(
        received[0].resource,
        [
            ("service.name".to_owned(), json!("orders-fn")),
            (
                "faas.instance".to_owned(),
                json!("2024/01/01/[$LATEST]abcdef")
            ),
        ]
        .into_iter()
        .collect()
    );
}

#[tokio::test]
async fn disabled_settings_build_no_exporter() {
    let all_none = [
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", " None "),
    ];
    for vars in [
        &[("OTEL_SDK_DISABLED", "true")][..],
        &[("OTEL_SDK_DISABLED", "TRUE")],
        &all_none,
    ] {
        let (settings, warnings) = ExportSettings::from_lookup(|key| {
            vars.iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| (*value).to_owned())
        });
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(settings.disabled, "{vars:?}");
        let exporter =
            Exporter::new(&settings, resource()).expect("a disabled exporter is not built");
        assert!(exporter.is_none(), "{vars:?}");
    }
}

#[tokio::test]
async fn each_signal_is_turned_off_on_its_own() {
    for (name, traces, metrics, logs) in [
        ("OTEL_TRACES_EXPORTER", false, true, true),
        ("OTEL_METRICS_EXPORTER", true, false, true),
        ("OTEL_LOGS_EXPORTER", true, true, false),
    ] {
        let (settings, warnings) =
            ExportSettings::from_lookup(|key| (key == name).then(|| "none".to_owned()));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(!settings.disabled, "{name}=none");
        assert_eq!(settings.destination.traces, traces, "{name}=none");
        let exporter = Exporter::new(&settings, resource())
            .expect("the exporter is built")
            .expect("the other signals are exported");
        assert_eq!(
            (
                exporter.traces_enabled(),
                exporter.metrics_enabled(),
                exporter.logs_enabled()
            ),
            (traces, metrics, logs),
            "{name}=none"
        );
    }

    // Settings of the spans alone do not matter when spans are not exported.
    let (settings, warnings) = ExportSettings::from_lookup(|key| match key {
        "OTEL_TRACES_EXPORTER" => Some("none".to_owned()),
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" => Some("collector:4318".to_owned()),
        _ => None,
    });
    assert!(warnings.is_empty(), "{warnings:?}");
    let exporter = Exporter::new(&settings, resource())
        .expect("a bad traces endpoint does not matter")
        .expect("metrics and logs are exported");
    assert_eq!((exporter.endpoint(), exporter.transport()), (None, None));
    assert!(exporter.metrics_enabled() && exporter.logs_enabled());
}

#[test]
fn settings_defaults_and_valid_values() {
    let (settings, warnings) = ExportSettings::from_lookup(|_| None);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(settings, ExportSettings::default());
    assert!(!settings.disabled);
    assert_eq!(settings.flush_timeout, DEFAULT_FLUSH_TIMEOUT);
    assert_eq!(settings.flush_timeout, Duration::from_millis(500));
    assert_eq!(settings.queue_capacity, DEFAULT_QUEUE_CAPACITY);
    assert_eq!(settings.queue_capacity, 2048);

    let (settings, warnings) = ExportSettings::from_lookup(|name| match name {
        "LAMBDA_LENS_FLUSH_TIMEOUT_MS" => Some(" 250 ".to_owned()),
        "LAMBDA_LENS_EXPORT_QUEUE_SPANS" => Some("100".to_owned()),
        "OTEL_SDK_DISABLED" => Some("false".to_owned()),
        "OTEL_TRACES_EXPORTER" => Some("otlp".to_owned()),
        _ => None,
    });
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        settings,
        ExportSettings {
            disabled: false,
            flush_timeout: Duration::from_millis(250),
            queue_capacity: 100,
            ..ExportSettings::default()
        }
    );
}

#[test]
fn empty_values_count_as_unset() {
    let (settings, warnings) = ExportSettings::from_lookup(|_| Some(String::new()));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(settings, ExportSettings::default());
}

#[test]
fn bad_settings_warn_and_use_the_defaults() {
    let (settings, warnings) = ExportSettings::from_lookup(|name| match name {
        "LAMBDA_LENS_FLUSH_TIMEOUT_MS" => Some("half a second".to_owned()),
        "LAMBDA_LENS_EXPORT_QUEUE_SPANS" => Some("0".to_owned()),
        "OTEL_SDK_DISABLED" => Some("yes".to_owned()),
        "OTEL_TRACES_EXPORTER" => Some("zipkin".to_owned()),
        _ => None,
    });
    assert_eq!(settings, ExportSettings::default());
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    assert!(
        warnings[2]
            .to_string()
            .contains("LAMBDA_LENS_FLUSH_TIMEOUT_MS")
            && warnings[2].to_string().contains("500"),
        "{warnings:?}"
    );
    assert!(
        warnings[3]
            .to_string()
            .contains("LAMBDA_LENS_EXPORT_QUEUE_SPANS"),
        "{warnings:?}"
    );

    let (settings, warnings) = ExportSettings::from_lookup(|name| {
        (name == "LAMBDA_LENS_EXPORT_QUEUE_SPANS").then(|| "10000000".to_owned())
    });
    assert_eq!(settings.queue_capacity, DEFAULT_QUEUE_CAPACITY);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].to_string().contains("from 1 to 16384"),
        "the bound holds: {warnings:?}"
    );

    let (settings, warnings) = ExportSettings::from_lookup(|name| {
        (name == "LAMBDA_LENS_FLUSH_TIMEOUT_MS").then(|| "-5".to_owned())
    });
    assert_eq!(settings.flush_timeout, DEFAULT_FLUSH_TIMEOUT);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[tokio::test]
async fn an_unusable_endpoint_is_a_build_error() {
    for (protocol, endpoint) in [
        ("http/protobuf", "http://exa mple/v1/traces"),
        ("grpc", "http://[::1"),
    ] {
        let (settings, _) = ExportSettings::from_lookup(|name| match name {
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some(protocol.to_owned()),
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" => Some(endpoint.to_owned()),
            _ => None,
        });
        let result = Exporter::new(&settings, resource());
        assert!(
            matches!(result, Err(ExportError::Build(ref message)) if message.contains("endpoint")),
            "{protocol} {endpoint}: {result:?}"
        );
    }
}

/// No test can complete a verified TLS handshake offline (a local server's self-signed
/// certificate is, rightly, not trusted by the webpki roots). What is checked instead: both
/// transports accept https endpoints, and a flush to one really starts a TLS handshake (the
/// listener receives a TLS ClientHello record), then fails within its budget and keeps the spans.
/// That the roots are the bundled webpki ones is unit-tested in the module (gRPC) and visible in
/// the client's construction (HTTP).
#[tokio::test]
async fn https_endpoints_are_accepted_and_speak_tls() {
    for protocol in ["http/protobuf", "grpc"] {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds loopback port 0");
        let endpoint = format!(
            "https://{}",
            listener
                .local_addr()
                .expect("a bound listener has an address")
        );
        let mut exporter = exporter_with(
            &ExportSettings::default(),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
            ],
        );
        assert!(
            exporter
                .endpoint()
                .is_some_and(|e| e.starts_with(&endpoint)),
            "{protocol}"
        );

        let first_bytes = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("the exporter connects");
            let mut record_header = [0_u8; 3];
            stream
                .read_exact(&mut record_header)
                .await
                .expect("the exporter sends a record");
            // Closing without an answer makes the handshake fail.
            record_header
        });
        exporter.enqueue(spans(0..1));
        let error = assert_failing_flush(&mut exporter, 1).await;

        let record_header = first_bytes.await.expect("the listener task completes");
        // A TLS handshake record (content type 22), protocol major version 3.
        assert_eq!(record_header[..2], [0x16, 0x03], "{protocol}: {error}");
    }
}
