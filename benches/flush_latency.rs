//! Flush latency benchmark: how long [`Exporter::flush`] takes to send one invocation's spans to a
//! local OTLP receiver, the time an invocation waits before lambda-lens may call `/event/next`.
//!
//! Uses the library directly, as the pipeline does: one exporter per protocol (OTLP/HTTP protobuf,
//! the same with gzip, OTLP/gRPC) built with [`Exporter::new`], on a single-threaded tokio
//! runtime like the extension's. Each flush sends the spans [`spans::invocation_spans`] builds from
//! a realistic closed invocation (an SQS event, a response, `platform.runtimeDone` with its three
//! phases): one SERVER span with 11 attributes, and 3 children. The
//! trace-view receiver runs on its own thread and runtime, standing in for a collector.
//!
//! Only `flush` is timed; building and queueing the spans is not. Flushes follow each other back
//! to back on a warm keep-alive connection; the first flush of each exporter (which connects) is
//! reported on its own. Protocols run in interleaved batches (rotating order) so that drift in
//! machine load hits all of them alike.
//!
//! A measurement, not a test: the process exits 0. Run: `cargo bench --bench flush_latency` (see
//! benches/README.md).

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use lambda_lens::correlate::{CloseReason, InvocationSummary};
use lambda_lens::export::Exporter;
use lambda_lens::record::{
    BodyCapture, InvocationRecord, RequestId, ResultKind, ResultRecord, SpanIdentity,
};
use lambda_lens::settings::{
    BodySettings, ExportSettings, FunctionSettings, RedactionSettings, SettingsGroup,
};
use lambda_lens::spans::{self, FunctionInfo};
use lambda_lens::telemetry::{PlatformSpan, PlatformStatus, RuntimeDone, Start, TelemetryEvent};
use lambda_lens::trace_context::{new_span_id, new_xray_trace_id, Propagators};
use opentelemetry_sdk::trace::SpanData;
use trace_view::{ReceiverHandle, RequestOutcome, Transport};

use common::{current_thread_runtime, loadavg, summarize, us};

mod common;

/// Unmeasured flushes per protocol first: connection, pools and allocators settle.
const WARMUP: usize = 200;
/// Measured flushes per protocol, split evenly over `ROUNDS` interleaved batches.
const FLUSHES: usize = 2000;
const ROUNDS: usize = 20;
/// Spans of one invocation as built by [`invocation`]: the invocation span and three phases.
const SPANS_PER_FLUSH: usize = 4;

/// An SQS trigger event of a typical size (about 0.9 KiB), so the trigger is inferred as in
/// production and the sizes are realistic.
const EVENT: &[u8] = br#"{"Records":[{"messageId":"059f36b4-87a3-44ab-83d2-661975830a7d","receiptHandle":"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...","body":"{\"orderId\":\"o-1029\",\"items\":[{\"sku\":\"A-17\",\"qty\":2},{\"sku\":\"B-3\",\"qty\":1}],\"total\":59.90}","attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1545082649183","SenderId":"AIDAIENQZJOLO23YVJ4VO","ApproximateFirstReceiveTimestamp":"1545082649185"},"messageAttributes":{},"md5OfBody":"e4e68fb7bd0e697a0ae8f1bb342846b3","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:eu-west-1:123456789012:orders","awsRegion":"eu-west-1"}]}"#;
const RESPONSE: &[u8] = br#"{"batchItemFailures":[]}"#;
const INVOKED_ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:orders:live";

/// One exporter configuration under test.
struct Protocol {
    label: &'static str,
    /// The `OTEL_EXPORTER_OTLP_*` variables, as the extension would read them.
    vars: Vec<(&'static str, String)>,
    /// Whether a request the receiver logged came from this configuration.
    sent: fn(&trace_view::RequestInfo) -> bool,
}

fn protocols(receiver: &ReceiverHandle) -> [Protocol; 3] {
    let http = receiver.http_endpoint();
    [
        Protocol {
            label: "http/protobuf",
            vars: vec![
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".into()),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", http.clone()),
            ],
            sent: |r| r.transport == Transport::Http && r.content_encoding.is_none(),
        },
        Protocol {
            label: "http/protobuf+gzip",
            vars: vec![
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".into()),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", http),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into()),
            ],
            sent: |r| r.transport == Transport::Http && r.content_encoding.is_some(),
        },
        Protocol {
            label: "grpc",
            vars: vec![
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint()),
            ],
            sent: |r| r.transport == Transport::Grpc,
        },
    ]
}

/// The function the spans describe, as the extension reads it from its environment.
fn function() -> FunctionInfo {
    let (settings, _) = FunctionSettings::from_lookup(|k| {
        Some(
            match k {
                "AWS_LAMBDA_FUNCTION_NAME" => "orders",
                "AWS_LAMBDA_FUNCTION_VERSION" => "7",
                "AWS_REGION" => "eu-west-1",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => "512",
                _ => return None,
            }
            .to_owned(),
        )
    });
    FunctionInfo::new(&settings, Some("123456789012".into()))
}

fn capture(body: &'static [u8], at: SystemTime) -> BodyCapture {
    BodyCapture {
        size: body.len() as u64,
        head: Bytes::from_static(body),
        complete: true,
        first_byte_at: Some(at),
        ended_at: Some(at),
    }
}

/// The spans of invocation `n`, closed on `platform.runtimeDone` as with the Telemetry API: fresh
/// trace and span ids each time, as every real invocation has.
fn invocation(n: usize, function: &FunctionInfo) -> Vec<SpanData> {
    let ms = |ms: u64| Duration::from_millis(ms);
    let start = SystemTime::now() - ms(60);
    let trace_id = new_xray_trace_id(start).to_string();
    let header = format!(
        "Root=1-{}-{};Parent={};Sampled=1",
        &trace_id[..8],
        &trace_id[8..],
        new_span_id()
    );
    // Chosen by the proxy as the event passes; the correlator gives the summary the same ids.
    let identity = SpanIdentity::from_lambda_header(Some(&header), start);
    let request_id = RequestId::new(format!("c6af9ac6-7b61-11e6-9a41-{n:012}"));
    let phase = |name: &str, at: u64, duration_ms: f64| PlatformSpan {
        name: name.to_owned().into(),
        start: start + ms(at),
        duration_ms,
    };
    let summary = InvocationSummary {
        request_id: request_id.clone(),
        reason: CloseReason::RuntimeDone,
        parent: identity.choice.clone(),
        span_id: identity.span_id,
        coldstart: false,
        init: None,
        restore: None,
        invoke: None,
        event: Some(Box::new(InvocationRecord {
            request_id: request_id.clone(),
            deadline_ms: None,
            invoked_function_arn: Some(INVOKED_ARN.into()),
            trace_header: Some(header.clone()),
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
            content_type: Some("application/json".into()),
            upstream_status: 200,
            received_at: start,
            event: capture(EVENT, start),
            records: None,
            span: identity,
            event_parse: None,
        })),
        result: Some(Box::new(ResultRecord {
            kind: ResultKind::Response,
            request_id: Some(request_id.clone()),
            started_at: start + ms(41),
            streaming: false,
            content_type: Some("application/json".into()),
            error_type: None,
            error_body_trailer: None,
            xray_error_cause: None,
            body: capture(RESPONSE, start + ms(41)),
            upstream_status: Some(202),
            upstream_error: None,
            upstream_body: BodyCapture::default(),
        })),
        runtime_next: Some(start + ms(42)),
        platform_start: Some(TelemetryEvent {
            time: start,
            body: Start {
                request_id: request_id.clone(),
                version: Some("7".into()),
                tracing: None,
                tenant_id: None,
            },
        }),
        runtime_done: Some(TelemetryEvent {
            time: start + ms(42),
            body: RuntimeDone {
                request_id,
                status: Some(PlatformStatus::Success),
                error_type: None,
                duration_ms: Some(41.6),
                produced_bytes: Some(RESPONSE.len() as u64),
                spans: vec![
                    phase("responseLatency", 0, 40.9),
                    phase("responseDuration", 41, 0.2),
                    phase("runtimeOverhead", 41, 0.5),
                ],
                tracing: None,
            },
        }),
    };
    // Default capture (bodies redacted and recorded), as a function gets without settings.
    let capture =
        spans::CaptureSettings::new(&BodySettings::default(), &RedactionSettings::default());
    spans::invocation_spans(
        &summary,
        function,
        &capture,
        &Propagators::default(),
        &mut new_span_id,
    )
}

/// The flush times of one protocol.
struct Measured {
    first: Duration,
    samples: Vec<Duration>,
    failed: usize,
    first_error: Option<String>,
}

/// Queues one invocation's spans and times the flush that sends them, as the pipeline does once an
/// invocation closed. A failed flush is counted (its spans stay queued for the next one).
async fn timed_flush(
    exporter: &mut Exporter,
    spans: Vec<SpanData>,
    budget: Duration,
    m: &mut Measured,
) -> Duration {
    exporter.enqueue(spans);
    let started = Instant::now();
    let outcome = exporter.flush(budget).await;
    let took = started.elapsed();
    if let Some(error) = outcome.error {
        m.failed += 1;
        m.first_error.get_or_insert(error);
    }
    took
}

fn main() {
    // `cargo bench` passes `--bench`; there are no options to parse.
    let run_started = Instant::now();
    println!("flush_latency: load average at start: {}", loadavg());
    let receiver = common::start_receiver();
    let function = function();
    let resource = spans::resource(&function, Some("2024/01/01/[$LATEST]0123456789abcdef"));
    let protocols = protocols(&receiver);
    let rt = current_thread_runtime();

    let mut exporters: Vec<Exporter> = protocols
        .iter()
        .map(|protocol| {
            let lookup = |name: &str| {
                protocol
                    .vars
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            };
            let (settings, warnings) = ExportSettings::from_lookup(lookup);
            assert!(warnings.is_empty(), "{warnings:?}");
            // Inside the runtime: the gRPC channel spawns its worker task on it.
            rt.block_on(async { Exporter::new(&settings, resource.clone()) })
                .expect("exporter builds")
                .expect("export is enabled")
        })
        .collect();
    let budget = ExportSettings::default().flush_timeout;
    let mut measured: Vec<Measured> = protocols
        .iter()
        .map(|_| Measured {
            first: Duration::ZERO,
            samples: Vec::with_capacity(FLUSHES),
            failed: 0,
            first_error: None,
        })
        .collect();

    rt.block_on(async {
        let mut n = 0;
        let mut next_invocation = || {
            n += 1;
            let spans = invocation(n, &function);
            assert_eq!(spans.len(), SPANS_PER_FLUSH, "spans of one invocation");
            spans
        };
        for (exporter, m) in exporters.iter_mut().zip(&mut measured) {
            m.first = timed_flush(exporter, next_invocation(), budget, m).await;
            for _ in 1..WARMUP {
                timed_flush(exporter, next_invocation(), budget, m).await;
            }
        }
        for round in 0..ROUNDS {
            // Rotate the order so no protocol always runs right after another.
            for k in 0..protocols.len() {
                let i = (round + k) % protocols.len();
                let m = &mut measured[i];
                for _ in 0..FLUSHES / ROUNDS {
                    let took = timed_flush(&mut exporters[i], next_invocation(), budget, m).await;
                    m.samples.push(took);
                }
            }
        }
    });

    let requests = receiver.requests();
    println!();
    println!(
        "{:<19} {:>9} {:>9} {:>9} {:>9} {:>7} {:>13}",
        "protocol", "p50 µs", "p99 µs", "max µs", "first µs", "failed", "spans recv'd"
    );
    for (protocol, m) in protocols.iter().zip(&mut measured) {
        let s = summarize(&mut m.samples);
        let received: usize = requests
            .iter()
            .filter(|r| (protocol.sent)(r) && r.outcome == RequestOutcome::Accepted)
            .map(|r| r.span_count)
            .sum();
        println!(
            "{:<19} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>7} {:>13}",
            protocol.label,
            us(s.p50),
            us(s.p99),
            us(s.max),
            us(m.first),
            m.failed,
            received
        );
        if let Some(error) = &m.first_error {
            println!("  first error: {error}");
        }
    }
    println!(
        "({FLUSHES} measured flushes per protocol after {WARMUP} warm-up ones; each flush sends \
         {SPANS_PER_FLUSH} spans, expected {} received per protocol; first = the first flush, \
         which connects)",
        (WARMUP + FLUSHES) * SPANS_PER_FLUSH
    );
    println!(
        "load average at end: {}; run took {:.1} s",
        loadavg(),
        run_started.elapsed().as_secs_f64()
    );
}
