//! The exporter against a collector that fails: a real HTTP server on an ephemeral port answering
//! from a script (429 with `Retry-After`, 400, or no answer at all), counting every request it
//! sees and keeping its body, or nothing listening at all. Backoff steps are a fixed fraction of
//! their ceiling (the exporter's jitter is injected). What is checked: exact request counts, that
//! `Retry-After` holds requests back and a retry re-sends the same bytes, that a 503 gets one
//! probe per step, that a refused batch is dropped for good while the next goes, that a hanging
//! collector costs one short probe after its first timeout, that the flushes one invocation waits
//! on pay one timeout between them, and that spans arrive in order and once after recovery. The
//! circuit is the collector's: spans, log records and metrics to one hanging collector pay one
//! probe per step between them, a `Retry-After` on the logs endpoint holds spans back, a batch
//! refused for good opens nothing, and collectors on two ports keep separate circuits and
//! pauses (a timeout on one never holds the other's spans back).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint,
};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use prost::Message;
use tokio::net::TcpListener;

use lambda_lens::export::{
    Exporter, FlushOutcome, Jitter, LogEntry, Occasion, BACKOFF_BASE, BACKOFF_CAP,
    FAILURES_TO_OPEN, LOG_QUEUE_RECORDS, PROBE_TIMEOUT, TIMEOUT_PAUSE,
};
use lambda_lens::settings::{Destination, ExportSettings, SettingsGroup};
use lambda_lens_test_support::export_pause::wait_for_the_pause;
use lambda_lens_test_support::layer::build_layer;
use lambda_lens_test_support::sandbox::{extension_lines, python_sandbox_config};
use lambda_sandbox::{Invocation, Sandbox, ShutdownReason, Status as SandboxStatus};
use serde_json::json;
use trace_view::{Mode, ReceivedSpan, Receiver, ReceiverConfig, ReceiverHandle};

const BUDGET: Duration = Duration::from_secs(2);

/// How the collector answers one request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Ok,
    Status(u16, Option<&'static str>),
    /// Never answers.
    Hang,
    /// Answers `Ok` after this many milliseconds.
    Slow(u64),
}

/// How the collector answers: per path first, in order, then from the shared script, then `Ok`.
#[derive(Default)]
struct Script {
    shared: VecDeque<Answer>,
    per_path: HashMap<&'static str, VecDeque<Answer>>,
}

impl Script {
    fn next(&mut self, path: &str) -> Answer {
        self.per_path
            .get_mut(path)
            .and_then(VecDeque::pop_front)
            .or_else(|| self.shared.pop_front())
            .unwrap_or(Answer::Ok)
    }
}

/// A collector answering requests from a script, keeping each request's path and body.
struct Collector {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<(String, Bytes)>>>,
}

impl Collector {
    /// Answers requests in order from `script`, whatever their path, then `Ok`.
    async fn start(script: Vec<Answer>) -> Self {
        Self::start_scripted(Script {
            shared: script.into(),
            per_path: HashMap::new(),
        })
        .await
    }

    /// Answers the requests to each path in order from its script, then `Ok`.
    async fn start_per_path(scripts: Vec<(&'static str, Vec<Answer>)>) -> Self {
        Self::start_scripted(Script {
            shared: VecDeque::new(),
            per_path: scripts
                .into_iter()
                .map(|(path, answers)| (path, answers.into()))
                .collect(),
        })
        .await
    }

    async fn start_scripted(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds loopback port 0");
        Self::serve(listener, script)
    }

    /// A collector that starts listening on `addr` (where nothing listened before).
    async fn start_on(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr)
            .await
            .expect("the port left free is still free");
        Self::serve(listener, Script::default())
    }

    fn serve(listener: TcpListener, script: Script) -> Self {
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script));
        let seen = Arc::clone(&requests);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, script) = (Arc::clone(&seen), Arc::clone(&script));
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (seen, script) = (Arc::clone(&seen), Arc::clone(&script));
                        async move {
                            let path = request.uri().path().to_owned();
                            let body = request
                                .into_body()
                                .collect()
                                .await
                                .map(|body| body.to_bytes())
                                .unwrap_or_default();
                            let answer = script.lock().expect("not poisoned").next(&path);
                            seen.lock().expect("not poisoned").push((path, body));
                            let response = match answer {
                                Answer::Ok => Response::new(Full::new(Bytes::new())),
                                Answer::Status(code, retry_after) => {
                                    let mut response = Response::new(Full::new(Bytes::new()));
                                    *response.status_mut() =
                                        StatusCode::from_u16(code).expect("a valid status");
                                    if let Some(value) = retry_after {
                                        response.headers_mut().insert(
                                            "retry-after",
                                            value.parse().expect("a valid header value"),
                                        );
                                    }
                                    response
                                }
                                Answer::Hang => std::future::pending().await,
                                Answer::Slow(ms) => {
                                    tokio::time::sleep(Duration::from_millis(ms)).await;
                                    Response::new(Full::new(Bytes::new()))
                                }
                            };
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, requests }
    }

    fn bodies(&self) -> Vec<Bytes> {
        self.requests
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// The requests' paths, in the order they arrived.
    fn paths(&self) -> Vec<String> {
        self.requests
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|(path, _)| path.clone())
            .collect()
    }

    fn exporter(&self) -> Exporter {
        exporter_to(self.addr, 1.0)
    }
}

/// The log lines written while its subscriber is the default.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        let lines = self.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || lines.clone())
            .finish()
    }

    fn all(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned"))
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Backoff steps of a fixed fraction of their ceiling.
struct Fraction(f64);

impl Jitter for Fraction {
    fn pick(&mut self, ceiling: Duration) -> Duration {
        ceiling.mul_f64(self.0)
    }
}

/// An exporter to `addr` whose backoff steps are `fraction` of their ceiling.
fn exporter_to(addr: SocketAddr, fraction: f64) -> Exporter {
    exporter_with(
        [("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}"))].into(),
        fraction,
    )
}

/// An exporter configured by the environment `vars`, its backoff steps `fraction` of their
/// ceiling.
fn exporter_with(vars: HashMap<&str, String>, fraction: f64) -> Exporter {
    let settings = ExportSettings {
        destination: Destination::from_lookup(|name| vars.get(name).cloned()).0,
        flush_timeout: BUDGET,
        ..ExportSettings::default()
    };
    Exporter::with_jitter(&settings, Resource::builder_empty().build(), || {
        Box::new(Fraction(fraction))
    })
    .expect("valid settings")
    .expect("export is on")
}

/// A loopback address nothing listens on (connections to it are refused).
async fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds loopback port 0");
    listener
        .local_addr()
        .expect("a bound listener has an address")
}

fn span(index: u64) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(7_u128),
            SpanId::from(index + 1),
            TraceFlags::SAMPLED,
            false,
            Default::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Server,
        name: format!("invoke-{index}").into(),
        start_time: UNIX_EPOCH + Duration::from_secs(1_700_000_000 + index),
        end_time: UNIX_EPOCH + Duration::from_secs(1_700_000_001 + index),
        attributes: vec![KeyValue::new(
            "index",
            i64::try_from(index).unwrap_or_default(),
        )],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("lambda-lens").build(),
    }
}

/// The span names of an OTLP/HTTP trace request body.
fn names(body: &Bytes) -> Vec<String> {
    ExportTraceServiceRequest::decode(body.as_ref())
        .expect("an OTLP trace request")
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .map(|span| span.name.clone())
        .collect()
}

#[tokio::test]
async fn retry_after_holds_requests_back_and_the_retry_resends_the_same_bytes() {
    let collector = Collector::start(vec![Answer::Status(429, Some("1"))]).await;
    let mut exporter = collector.exporter();
    exporter.enqueue((0..3).map(span).collect());

    let refused = exporter.flush(BUDGET).await;
    assert!(
        refused.error.as_deref().is_some_and(|e| e.contains("429")),
        "{refused:?}"
    );
    assert_eq!(refused.requeued, 3);
    exporter.enqueue(vec![span(3)]);
    for _ in 0..5 {
        let held = exporter.flush(BUDGET).await;
        assert_eq!(held.exported, 0, "{held:?}");
        assert!(
            held.error.as_deref().is_some_and(|e| e.contains("paused")),
            "{held:?}"
        );
    }
    assert_eq!(collector.bodies().len(), 1, "no request before Retry-After");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let delivered = exporter.flush(BUDGET).await;
    assert_eq!(
        (delivered.exported, delivered.requeued),
        (4, 0),
        "{delivered:?}"
    );

    let bodies = collector.bodies();
    assert_eq!(bodies.len(), 3, "the retry, then the span queued meanwhile");
    assert_eq!(
        bodies[1], bodies[0],
        "the kept request is re-sent byte for byte"
    );
    assert_eq!(names(&bodies[1]), ["invoke-0", "invoke-1", "invoke-2"]);
    assert_eq!(names(&bodies[2]), ["invoke-3"]);
    assert_eq!(exporter.dropped().spans, 0);
}

#[tokio::test]
async fn a_batch_refused_for_good_is_dropped_and_counted_and_the_next_goes() {
    let collector = Collector::start(vec![Answer::Status(400, None)]).await;
    let mut exporter = collector.exporter();
    exporter.enqueue((0..600).map(span).collect());

    let lines = Lines::default();
    let outcome = {
        let _logging = tracing::subscriber::set_default(lines.subscriber());
        exporter.flush(BUDGET).await
    };
    let lines = lines.all();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("dropped 512 spans for good") && !lines[0].contains("kept"),
        "the line says what was dropped: {}",
        lines[0]
    );

    assert_eq!(outcome.exported, 88, "{outcome:?}");
    assert_eq!(outcome.requeued, 0);
    assert!(
        outcome.error.as_deref().is_some_and(|e| e.contains("400")),
        "{outcome:?}"
    );
    assert_eq!(
        exporter.dropped().spans,
        512,
        "the refused batch, and only it"
    );
    let bodies = collector.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        names(&bodies[1]).first().map(String::as_str),
        Some("invoke-512")
    );
}

#[tokio::test]
async fn a_hanging_collector_costs_one_short_probe_after_its_first_timeout() {
    let collector = Collector::start(vec![Answer::Hang, Answer::Hang]).await;
    let mut exporter = collector.exporter();
    exporter.enqueue(vec![span(0)]);

    assert_cut(&exporter.flush(Duration::from_millis(600)).await);
    wait_for_the_pause(&exporter).await;
    let probe = exporter.flush(BUDGET).await;
    assert!(probe.error.is_some(), "{probe:?}");
    assert!(
        probe.elapsed < PROBE_TIMEOUT + Duration::from_millis(200),
        "the probe is short: {:?}",
        probe.elapsed
    );
    assert_eq!(
        collector.bodies().len(),
        2,
        "the first request and one probe"
    );
    assert_eq!(exporter.queued(), 1, "the span is kept");

    // Full-ceiling jitter: the next probe goes after BACKOFF_BASE, not before any freeze.
    flush_rapidly(&mut exporter, 10).await;
    assert_eq!(collector.bodies().len(), 2, "nothing within the step");
    tokio::time::sleep(BACKOFF_BASE + Duration::from_millis(20)).await;
    let delivered = exporter.flush(BUDGET).await;
    assert_eq!(
        (delivered.exported, delivered.requeued),
        (1, 0),
        "{delivered:?}"
    );
    assert_eq!(collector.bodies().len(), 3, "one probe, answered");
}

/// The span flush ran out of its budget: the request hung.
fn assert_cut(outcome: &FlushOutcome) {
    assert!(
        outcome
            .error
            .as_deref()
            .is_some_and(|e| e.contains("did not finish")),
        "{outcome:?}"
    );
}

/// Flushes `count` times at once (well within any backoff step), on both occasions.
async fn flush_rapidly(exporter: &mut Exporter, count: usize) {
    for index in 0..count {
        let occasion = if index % 2 == 0 {
            Occasion::Background
        } else {
            Occasion::BeforeFreeze
        };
        let held = exporter.flush_on(BUDGET, occasion).await;
        assert_eq!(held.exported, 0, "{held:?}");
    }
}

#[tokio::test]
async fn a_collector_answering_503_gets_one_probe_per_backoff_step_then_everything_in_order() {
    let failures = usize::try_from(FAILURES_TO_OPEN).expect("small") + 2;
    let collector = Collector::start(vec![Answer::Status(503, None); failures]).await;
    // Steps of a quarter of their ceiling: 250 ms after the first failed probe, then 500 ms.
    let mut exporter = exporter_to(collector.addr, 0.25);
    exporter.enqueue((0..3).map(span).collect());

    for attempt in 1..=FAILURES_TO_OPEN {
        exporter.flush(BUDGET).await;
        assert_eq!(
            collector.bodies().len(),
            attempt as usize,
            "closed: every flush sends"
        );
    }
    exporter.flush(BUDGET).await;
    assert_eq!(
        collector.bodies().len(),
        4,
        "the first probe is not delayed"
    );
    flush_rapidly(&mut exporter, 10).await;
    assert_eq!(collector.bodies().len(), 4, "nothing within the step");

    tokio::time::sleep(BACKOFF_BASE.mul_f64(0.25) + Duration::from_millis(20)).await;
    exporter.flush(BUDGET).await;
    assert_eq!(
        collector.bodies().len(),
        5,
        "one probe once the step passed"
    );
    flush_rapidly(&mut exporter, 10).await;
    assert_eq!(
        collector.bodies().len(),
        5,
        "nothing within the doubled step"
    );

    tokio::time::sleep(BACKOFF_BASE.mul_f64(0.5) + Duration::from_millis(20)).await;
    exporter.enqueue(vec![span(3)]);
    let delivered = exporter.flush(BUDGET).await;
    assert_eq!(
        (delivered.exported, delivered.requeued),
        (4, 0),
        "{delivered:?}"
    );
    let bodies = collector.bodies();
    assert_eq!(
        bodies.len(),
        7,
        "the kept request, then the span queued meanwhile"
    );
    assert!(
        bodies[..6].iter().all(|body| *body == bodies[0]),
        "every retry re-sends the same bytes"
    );
    assert_eq!(names(&bodies[5]), ["invoke-0", "invoke-1", "invoke-2"]);
    assert_eq!(names(&bodies[6]), ["invoke-3"]);
    assert_eq!(exporter.dropped().spans, 0);
}

#[tokio::test]
async fn a_collector_that_was_down_gets_everything_at_the_first_flush_before_a_freeze() {
    let addr = free_addr().await;
    let mut exporter = exporter_to(addr, 1.0);
    for index in 0..6 {
        exporter.enqueue(vec![span(index)]);
        let refused = exporter.flush_on(BUDGET, Occasion::BeforeFreeze).await;
        assert!(
            refused
                .error
                .as_deref()
                .is_some_and(|e| e.contains("reach")),
            "{refused:?}"
        );
    }
    let held_at = std::time::SystemTime::now();
    let until = exporter
        .blocked_until(held_at)
        .expect("background flushes wait for the step");
    assert!(until > held_at);

    let collector = Collector::start_on(addr).await;
    let background = exporter.flush(BUDGET).await;
    assert_eq!(
        background.exported, 0,
        "the step holds background flushes back"
    );
    assert!(collector.bodies().is_empty());

    let delivered = exporter.flush_on(BUDGET, Occasion::BeforeFreeze).await;
    assert_eq!(
        (delivered.exported, delivered.requeued),
        (6, 0),
        "{delivered:?}"
    );
    let bodies = collector.bodies();
    assert_eq!(
        bodies.len(),
        2,
        "the request kept since the first failure, then the rest"
    );
    assert_eq!(names(&bodies[0]), ["invoke-0"]);
    assert_eq!(
        names(&bodies[1]),
        ["invoke-1", "invoke-2", "invoke-3", "invoke-4", "invoke-5"]
    );
}

/// The release binary as a layer in the sandbox (in `opt`, named `name`), exporting to a trace-view
/// receiver with a 300 ms flush budget.
async fn binary_exporting_to_a_receiver(name: &str) -> (ReceiverHandle, PathBuf, Sandbox) {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("OTLP receiver starts");
    let opt = build_layer(env!("CARGO_BIN_EXE_lambda-lens"), name);
    let sandbox = Sandbox::start(
        python_sandbox_config(&opt)
            .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint())
            .with_env("LAMBDA_LENS_FLUSH_TIMEOUT_MS", "300"),
    )
    .await
    .expect("sandbox starts");
    (receiver, opt, sandbox)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_logs_one_line_per_failure_kind_and_one_when_each_told_outage_is_over() {
    const DOWN_INVOCATIONS: usize = 8;
    const REFUSING_INVOCATIONS: usize = 6;
    let (receiver, opt, sandbox) = binary_exporting_to_a_receiver("fault-lines").await;
    sandbox.invoke(Invocation::json(&json!({}))).await;

    receiver.set_mode(Mode::Down).await.expect("receiver down");
    for _ in 0..DOWN_INVOCATIONS {
        let out = sandbox.invoke(Invocation::json(&json!({"echo": 1}))).await;
        assert_eq!(out.status, SandboxStatus::Success);
    }
    receiver
        .set_mode(Mode::Refuse)
        .await
        .expect("receiver refuses");
    for _ in 0..REFUSING_INVOCATIONS {
        sandbox.invoke(Invocation::json(&json!({"echo": 2}))).await;
    }
    receiver
        .set_mode(Mode::Normal)
        .await
        .expect("receiver back");
    // After refusals the circuit waits out its step (at most BACKOFF_CAP, frozen or not); the
    // first invocation after it delivers everything.
    tokio::time::sleep(BACKOFF_CAP).await;
    let last = sandbox.invoke(Invocation::json(&json!({}))).await;
    let last_id = last.request_id.to_string();
    receiver
        .wait_for_spans(
            |spans: &[ReceivedSpan]| {
                spans
                    .iter()
                    .any(|span| span.attributes.get("faas.invocation_id") == Some(&json!(last_id)))
            },
            Duration::from_secs(10),
        )
        .await
        .expect("export resumes");
    sandbox.shutdown(ShutdownReason::Spindown).await;

    let lines = extension_lines(&sandbox);
    let warnings: Vec<&String> = lines.iter().filter(|line| line.contains("WARN")).collect();
    let unreachable: Vec<_> = warnings
        .iter()
        .filter(|line| line.contains("collector unreachable"))
        .collect();
    let refused: Vec<_> = warnings
        .iter()
        .filter(|line| line.contains("collector refused (try later)"))
        .collect();
    assert_eq!(unreachable.len(), 1, "one line for the outage: {lines:#?}");
    assert_eq!(refused.len(), 1, "one line for the refusals: {lines:#?}");
    assert_eq!(warnings.len(), 2, "no other warning: {lines:#?}");
    assert!(
        unreachable[0].contains("attempts=1 ")
            && unreachable[0].contains("kept for the next attempt"),
        "{}",
        unreachable[0]
    );
    assert!(refused[0].contains("dropped_total=0"), "{}", refused[0]);
    let recovered: Vec<_> = lines
        .iter()
        .filter(|line| line.contains("export recovered"))
        .collect();
    // Two outages were told, the collector's (unreachable) and the traces path's (refused). The
    // traces path's ends with a line at a traces delivery; the collector's at the first delivery of
    // any signal: the same line when spans are delivered first, a line of its own otherwise.
    assert!(
        (1..=2).contains(&recovered.len()),
        "one line per told outage: {lines:#?}"
    );
    assert!(
        recovered
            .iter()
            .all(|line| line.contains("failed_attempts=") && line.contains("dropped_total=0")),
        "{recovered:#?}"
    );
    assert!(
        recovered
            .iter()
            .any(|line| line.contains("signal=\"traces\"")),
        "{recovered:#?}"
    );
    std::fs::remove_dir_all(&opt).expect("layer removed");
}

#[tokio::test]
async fn a_flush_budget_shorter_than_a_probe_still_opens_the_circuit_on_a_hanging_collector() {
    let collector = Collector::start(vec![Answer::Hang; 3]).await;
    let mut exporter = exporter_to(collector.addr, 1.0);
    exporter.enqueue(vec![span(0)]);
    let short = PROBE_TIMEOUT / 2;

    exporter.flush(short).await;
    wait_for_the_pause(&exporter).await;
    exporter.flush(short).await;
    assert_eq!(
        collector.bodies().len(),
        2,
        "the first request and the first probe"
    );
    flush_rapidly(&mut exporter, 10).await;
    assert_eq!(collector.bodies().len(), 2, "nothing within the step");
    assert_eq!(exporter.queued(), 1, "the span is kept");
}

/// A log record like an invocation's report record, as far as export is concerned.
fn report_record() -> LogEntry {
    LogEntry {
        time_unix_nano: 1_700_000_000_000_000_000,
        observed_time_unix_nano: 0,
        severity: SeverityNumber::Unspecified,
        severity_text: "".into(),
        body: "REPORT".to_owned(),
        attributes: Vec::new(),
        trace: None,
    }
}

/// A hanging collector, its first request timed out in an invocation's flush before the freeze
/// (the circuit opens, its first probe may go at once; no pause starts), then the next
/// invocation's two flushes: a background flush that was running when its result came, and its
/// own before `/event/next`, started at once, with `report` queued in between if given. Checks
/// that the two made one request (the probe, with the span) and held it for one probe's time;
/// returns the own flush's outcome.
async fn an_invocation_after_a_timeout(
    collector: &Collector,
    exporter: &mut Exporter,
    report: Option<LogEntry>,
) -> FlushOutcome {
    exporter.enqueue(vec![span(0)]);
    assert_cut(
        &exporter
            .flush_on(Duration::from_millis(300), Occasion::BeforeFreeze)
            .await,
    );

    let background = exporter.flush_on(BUDGET, Occasion::Background).await;
    if let Some(report) = report {
        exporter.enqueue_logs(vec![report]);
    }
    let before_freeze = exporter.flush_on(BUDGET, Occasion::BeforeFreeze).await;
    let bodies = collector.bodies();
    assert_eq!(bodies.len(), 2, "the first request and one probe");
    assert_eq!(
        names(&bodies[1]),
        ["invoke-0"],
        "the probe re-sends the span"
    );
    let held = background.elapsed + before_freeze.elapsed;
    assert!(
        held < PROBE_TIMEOUT + Duration::from_millis(150),
        "one probe's time: {held:?}"
    );
    before_freeze
}

/// Backoff steps of zero: the circuit alone would let the invocation's own flush probe again,
/// for a second probe's time.
#[tokio::test]
async fn a_background_probe_and_the_flush_before_the_freeze_pay_one_probe_between_them() {
    let collector = Collector::start(vec![Answer::Hang; 3]).await;
    let mut exporter = exporter_to(collector.addr, 0.0);
    let before_freeze = an_invocation_after_a_timeout(&collector, &mut exporter, None).await;
    assert_eq!(
        (before_freeze.exported, before_freeze.requeued),
        (0, 1),
        "{before_freeze:?}"
    );

    // Background flushes wait for the pause's end, not for the circuit's (zero) step.
    let now = SystemTime::now();
    let until = exporter.blocked_until(now).expect("held back by the pause");
    assert!(until > now && until <= now + TIMEOUT_PAUSE, "{until:?}");

    // The pause over, the step of zero lets the next flush probe.
    tokio::time::sleep(until.duration_since(now).unwrap_or_default()).await;
    exporter.flush_on(BUDGET, Occasion::BeforeFreeze).await;
    let bodies = collector.bodies();
    assert_eq!(bodies.len(), 3, "the next probe, after the pause");
    assert_eq!(names(&bodies[2]), ["invoke-0"]);
}

/// Another signal: the report record queued while the background flush probed the spans'
/// endpoint would be the logs' first request, to the same hanging collector, and cost the whole
/// flush budget.
#[tokio::test]
async fn after_a_background_timeout_no_other_signal_holds_the_invocation_again() {
    let collector = Collector::start(vec![Answer::Hang; 3]).await;
    let mut exporter = exporter_to(collector.addr, 1.0);
    let before_freeze =
        an_invocation_after_a_timeout(&collector, &mut exporter, Some(report_record())).await;
    assert_eq!(
        (before_freeze.requeued, before_freeze.logs.requeued),
        (1, 1),
        "{before_freeze:?}"
    );
}

/// One gauge, as a metric collection to queue.
fn gauge() -> Vec<Metric> {
    vec![Metric {
        name: "faas.mem_usage".to_owned(),
        unit: "By".to_owned(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                time_unix_nano: 1_700_000_000_000_000_000,
                value: Some(number_data_point::Value::AsInt(64 << 20)),
                ..NumberDataPoint::default()
            }],
        })),
        ..Metric::default()
    }]
}

/// Spans, a log record and a metric collection queued, one each.
fn enqueue_every_signal(exporter: &mut Exporter, index: u64) {
    exporter.enqueue(vec![span(index)]);
    exporter.enqueue_logs(vec![report_record()]);
    exporter.enqueue_metrics(gauge());
}

/// The items each signal still has queued: spans, log records, metric collections.
fn requeued(outcome: &FlushOutcome) -> (usize, usize, usize) {
    (
        outcome.requeued,
        outcome.logs.requeued,
        outcome.metrics.requeued,
    )
}

const TRACES_PATH: &str = "/v1/traces";
const LOGS_PATH: &str = "/v1/logs";
const METRICS_PATH: &str = "/v1/metrics";

/// The circuit is the collector's: spans, log records and metrics to one hanging collector pay
/// one probe per backoff step between them, and once a probe is answered the others go in the
/// same flush.
#[tokio::test]
async fn a_hanging_collector_gets_one_probe_per_step_for_all_its_signals() {
    let collector = Collector::start(vec![Answer::Hang; 5]).await;
    // Steps of half their ceiling: 500 ms after the first failed probe, then 1 s.
    let mut exporter = exporter_to(collector.addr, 0.5);
    enqueue_every_signal(&mut exporter, 0);

    // Closed: each signal's first request goes, concurrently; all three hang.
    let first = exporter.flush(Duration::from_millis(600)).await;
    assert_cut(&first);
    let mut paths = collector.paths();
    paths.sort();
    assert_eq!(paths, [LOGS_PATH, METRICS_PATH, TRACES_PATH]);

    wait_for_the_pause(&exporter).await;
    let probe = exporter.flush(BUDGET).await;
    assert_eq!(requeued(&probe), (1, 1, 1), "{probe:?}");
    assert!(
        probe.elapsed < PROBE_TIMEOUT + Duration::from_millis(200),
        "one short probe for all three: {:?}",
        probe.elapsed
    );
    assert_eq!(
        collector.paths()[3..],
        [TRACES_PATH],
        "one probe, by the first signal with queued items"
    );
    flush_rapidly(&mut exporter, 10).await;
    assert_eq!(collector.paths().len(), 4, "nothing within the step");

    tokio::time::sleep(BACKOFF_BASE.mul_f64(0.5) + Duration::from_millis(20)).await;
    exporter.flush(BUDGET).await;
    assert_eq!(collector.paths()[4..], [TRACES_PATH], "one probe per step");
    flush_rapidly(&mut exporter, 10).await;
    assert_eq!(
        collector.paths().len(),
        5,
        "nothing within the doubled step"
    );

    tokio::time::sleep(BACKOFF_BASE + Duration::from_millis(20)).await;
    let delivered = exporter.flush(BUDGET).await;
    assert_eq!(
        (
            delivered.exported,
            delivered.logs.exported,
            delivered.metrics.exported
        ),
        (1, 1, 1),
        "{delivered:?}"
    );
    assert_eq!(requeued(&delivered), (0, 0, 0));
    let paths = collector.paths();
    assert_eq!(paths[5], TRACES_PATH, "the probe, answered");
    let mut rest = paths[6..].to_vec();
    rest.sort();
    assert_eq!(
        rest,
        [LOGS_PATH, METRICS_PATH],
        "the others went in the probe's flush, once each"
    );
}

/// A `Retry-After` is about the collector: the logs endpoint's holds the spans back too.
#[tokio::test]
async fn a_retry_after_on_the_logs_endpoint_holds_the_spans_back_too() {
    let collector =
        Collector::start_per_path(vec![(LOGS_PATH, vec![Answer::Status(429, Some("1"))])]).await;
    let mut exporter = collector.exporter();
    exporter.enqueue(vec![span(0)]);
    exporter.enqueue_logs(vec![report_record()]);

    let throttled = exporter.flush(BUDGET).await;
    assert_eq!(
        (throttled.exported, throttled.logs.requeued),
        (1, 1),
        "the span went with the log record, before the 429: {throttled:?}"
    );
    for index in 1..6 {
        exporter.enqueue(vec![span(index)]);
        let held = exporter.flush(BUDGET).await;
        assert_eq!((held.exported, held.logs.exported), (0, 0), "{held:?}");
        assert!(
            held.error.as_deref().is_some_and(|e| e.contains("paused")),
            "{held:?}"
        );
    }
    assert_eq!(
        collector.paths().len(),
        2,
        "no request to the collector before its Retry-After"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let delivered = exporter.flush(BUDGET).await;
    assert_eq!(
        (delivered.exported, delivered.logs.exported),
        (5, 1),
        "{delivered:?}"
    );
    let paths = collector.paths();
    assert_eq!(
        paths[2..],
        [TRACES_PATH, LOGS_PATH],
        "one probe, then the log record"
    );
    let bodies = collector.bodies();
    let logs: Vec<&Bytes> = paths
        .iter()
        .zip(&bodies)
        .filter(|(path, _)| *path == LOGS_PATH)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(logs[0], logs[1], "the log request is re-sent byte for byte");
    assert_eq!(
        names(&bodies[2]),
        ["invoke-1", "invoke-2", "invoke-3", "invoke-4", "invoke-5"]
    );
}

/// An answer refusing one signal's path for now (a 503 without `Retry-After` on `/v1/logs`) is
/// about that path: the logs back off on their own circuit, while the spans, answered, go in
/// every flush, neither resetting the logs' count nor announcing a recovery.
#[tokio::test]
async fn a_path_that_keeps_refusing_backs_off_alone_while_the_others_go() {
    const FLUSHES: u64 = 10;
    let collector =
        Collector::start_per_path(vec![(LOGS_PATH, vec![Answer::Status(503, None); 20])]).await;
    let mut exporter = collector.exporter();
    let lines = Lines::default();
    {
        let _logging = tracing::subscriber::set_default(lines.subscriber());
        exporter.enqueue_logs(vec![report_record()]);
        for index in 0..FLUSHES {
            exporter.enqueue(vec![span(index)]);
            let flush = exporter.flush(BUDGET).await;
            assert_eq!(flush.exported, 1, "every span goes at once: {flush:?}");
            assert_eq!(flush.logs.requeued, 1, "{flush:?}");
        }
    }
    let paths = collector.paths();
    let traces = paths.iter().filter(|p| **p == TRACES_PATH).count();
    let logs = paths.iter().filter(|p| **p == LOGS_PATH).count();
    assert_eq!(traces as u64, FLUSHES, "{paths:?}");
    // FAILURES_TO_OPEN refusals open the logs' own circuit, its first probe goes at the next
    // flush, and the step after it (a full BACKOFF_BASE with this jitter) outlasts the rest.
    assert_eq!(
        logs,
        usize::try_from(FAILURES_TO_OPEN).expect("small") + 1,
        "the logs' own circuit opened: {paths:?}"
    );
    let lines = lines.all();
    assert!(
        !lines.iter().any(|line| line.contains("export recovered")),
        "the spans' deliveries announce no recovery: {lines:?}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|line| line.contains("collector refused (try later)"))
            .count(),
        1,
        "one line for the refusals: {lines:?}"
    );
}

/// A batch refused for good is about that batch: it neither opens the collector's circuit nor
/// stops the other signals.
#[tokio::test]
async fn log_batches_refused_for_good_leave_the_collector_closed_for_the_spans() {
    let flushes = usize::try_from(FAILURES_TO_OPEN).expect("small") + 1;
    let collector =
        Collector::start_per_path(vec![(LOGS_PATH, vec![Answer::Status(400, None); flushes])])
            .await;
    let mut exporter = collector.exporter();
    for index in 0..flushes {
        exporter.enqueue(vec![span(u64::try_from(index).expect("small"))]);
        exporter.enqueue_logs(vec![report_record()]);
        let outcome = exporter.flush(BUDGET).await;
        assert_eq!(
            (outcome.exported, outcome.logs.requeued),
            (1, 0),
            "{outcome:?}"
        );
    }
    let paths = collector.paths();
    assert_eq!(paths.len(), 2 * flushes, "every flush sent both: {paths:?}");
    assert_eq!(exporter.dropped().log_records, flushes as u64);
    assert_eq!(exporter.dropped().spans, 0);
}

/// An exporter sending spans to `traces` and log records to `logs` (no metrics), its backoff
/// steps their full ceiling.
fn exporter_to_two(traces: &Collector, logs: &Collector) -> Exporter {
    exporter_with(
        [
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("http://{}{TRACES_PATH}", traces.addr),
            ),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                format!("http://{}{LOGS_PATH}", logs.addr),
            ),
            ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ]
        .into(),
        1.0,
    )
}

/// Collectors on different ports are different collectors: one throttling with a long
/// `Retry-After` holds back only its own signals.
#[tokio::test]
async fn collectors_on_different_ports_keep_separate_circuits() {
    let traces = Collector::start(vec![Answer::Status(429, Some("60"))]).await;
    let logs = Collector::start(Vec::new()).await;
    let mut exporter = exporter_to_two(&traces, &logs);
    exporter.enqueue(vec![span(0)]);
    for _ in 0..4 {
        exporter.enqueue_logs(vec![report_record()]);
        let outcome = exporter.flush(BUDGET).await;
        assert_eq!(
            (outcome.requeued, outcome.logs.exported),
            (1, 1),
            "{outcome:?}"
        );
    }
    assert_eq!(traces.paths(), [TRACES_PATH], "held by its Retry-After");
    assert_eq!(
        logs.paths(),
        [LOGS_PATH; 4],
        "the other collector gets every flush"
    );
}

/// The pause after a timeout is the collector's: after a background flush timed out on a hanging
/// logs endpoint, the flush before the freeze started right after it delivers the span queued
/// meanwhile to the healthy traces endpoint, on another port, and sends nothing to the hanging one.
#[tokio::test]
async fn after_a_background_timeout_on_one_collector_the_other_still_gets_its_spans() {
    let traces = Collector::start(Vec::new()).await;
    let logs = Collector::start(vec![Answer::Hang; 2]).await;
    let mut exporter = exporter_to_two(&traces, &logs);
    exporter.enqueue_logs(vec![report_record()]);
    let background = exporter.flush(Duration::from_millis(300)).await;
    assert!(
        background
            .logs
            .error
            .as_deref()
            .is_some_and(|e| e.contains("did not finish")),
        "{background:?}"
    );

    exporter.enqueue(vec![span(0)]);
    exporter.enqueue_logs(vec![report_record()]);
    let before_freeze = exporter.flush_on(BUDGET, Occasion::BeforeFreeze).await;
    assert_eq!(
        (
            before_freeze.exported,
            before_freeze.requeued,
            before_freeze.logs.exported,
            before_freeze.logs.requeued
        ),
        (1, 0, 0, 2),
        "{before_freeze:?}"
    );
    assert!(
        before_freeze
            .logs
            .error
            .as_deref()
            .is_some_and(|e| e.contains("paused")),
        "{before_freeze:?}"
    );
    let bodies = traces.bodies();
    assert_eq!(bodies.len(), 1, "the span, once");
    assert_eq!(names(&bodies[0]), ["invoke-0"]);
    assert_eq!(
        logs.paths(),
        [LOGS_PATH],
        "nothing more to the hanging collector within its pause"
    );
    assert!(
        before_freeze.elapsed < PROBE_TIMEOUT,
        "no second timeout: {:?}",
        before_freeze.elapsed
    );
    // Only the log records wait, for the hanging collector's pause.
    wait_for_the_pause(&exporter).await;
}

/// A collector that is down while a busy function (Lambda Managed Instances: 255 invocations a
/// second) fills the span queue: within a few seconds, well under one `LOG_INTERVAL`, the
/// exporter says one line per kind of trouble, with counts: not one more line per 1000 spans
/// dropped.
#[tokio::test]
async fn a_full_queue_during_an_outage_logs_at_most_one_line_per_minute() {
    let addr = free_addr().await;
    let mut exporter = exporter_to(addr, 1.0);
    let lines = Lines::default();
    {
        let _logging = tracing::subscriber::set_default(lines.subscriber());
        for index in 0..5000 {
            exporter.enqueue(vec![span(index)]);
            if index % 16 == 0 {
                exporter.flush(BUDGET).await;
            }
        }
    }
    let warnings: Vec<String> = lines
        .all()
        .into_iter()
        .filter(|line| line.contains("WARN"))
        .collect();
    assert_eq!(exporter.dropped().spans, 5000 - 2048);
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[0].contains("collector unreachable"),
        "{warnings:#?}"
    );
    assert!(
        warnings[1].contains("export queue full")
            && warnings[1].contains("dropped_since_last_line=1"),
        "{warnings:#?}"
    );
}

/// A collector behind a load balancer with one bad backend: every other request gets a 503
/// (no `Retry-After`). Within a few hundred milliseconds, well under one `LOG_INTERVAL`, the
/// exporter says one failure line and one recovery line, not a line per failed request.
#[tokio::test]
async fn an_intermittently_failing_collector_logs_at_most_one_recovery_line_per_minute() {
    let mut script = Vec::new();
    for _ in 0..10 {
        script.extend([Answer::Status(503, None), Answer::Ok]);
    }
    let collector = Collector::start(script).await;
    let mut exporter = collector.exporter();
    let lines = Lines::default();
    {
        let _logging = tracing::subscriber::set_default(lines.subscriber());
        for index in 0..20 {
            exporter.enqueue(vec![span(index)]);
            exporter.flush_on(BUDGET, Occasion::BeforeFreeze).await;
        }
    }
    assert_eq!(exporter.dropped().spans, 0);
    let lines = lines.all();
    let recovered = lines
        .iter()
        .filter(|line| line.contains("export recovered"))
        .count();
    assert_eq!((lines.len(), recovered), (2, 1), "{lines:#?}");
}

/// At SHUTDOWN nothing comes after the flush: a failure then must not say the spans are kept for
/// a next attempt (the owner task says once that the rest is lost).
#[tokio::test]
async fn a_failure_at_shutdown_does_not_say_the_spans_are_kept_for_the_next_attempt() {
    let addr = free_addr().await;
    let mut exporter = exporter_to(addr, 1.0);
    exporter.enqueue(vec![span(0)]);
    let lines = Lines::default();
    let outcome = {
        let _logging = tracing::subscriber::set_default(lines.subscriber());
        exporter
            .flush_on(Duration::from_secs(2), Occasion::Shutdown)
            .await
    };
    assert_eq!(outcome.requeued, 1, "{outcome:?}");
    let lines = lines.all();
    assert!(
        lines
            .iter()
            .all(|line| !line.contains("kept for the next attempt")),
        "{lines:#?}"
    );
}

/// The logs' path refuses (503 without `Retry-After`) and says so; while it still refuses, the
/// spans' path has a refusal of its own and is answered again (its recovery line, said for the
/// spans). The logs' path keeps refusing, then is answered: its outage was told (the first line
/// of this test is about the log records), so its end is told too.
#[tokio::test]
async fn a_told_outage_of_one_path_is_told_over_when_that_path_is_answered_again() {
    let collector = Collector::start_per_path(vec![
        (LOGS_PATH, vec![Answer::Status(503, None); 5]),
        (
            TRACES_PATH,
            vec![
                Answer::Ok,
                Answer::Ok,
                Answer::Ok,
                Answer::Status(503, None),
            ],
        ),
    ])
    .await;
    // Steps of a tenth of their ceiling: 100 ms after the logs' first failed probe, then 200 ms.
    let mut exporter = exporter_to(collector.addr, 0.1);
    let lines = Lines::default();
    let last = {
        let _logging = tracing::subscriber::set_default(lines.subscriber());
        exporter.enqueue_logs(vec![report_record()]);
        // Three refusals open the logs' circuit; the fourth (its first probe) comes with the
        // spans' own refusal; the fifth flush delivers the spans (their recovery line) while the
        // logs wait out their step.
        for index in 0..5 {
            exporter.enqueue(vec![span(index)]);
            exporter.flush_on(BUDGET, Occasion::BeforeFreeze).await;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        // The logs' second probe: refused again.
        exporter.enqueue(vec![span(5)]);
        let refused = exporter.flush_on(BUDGET, Occasion::BeforeFreeze).await;
        assert_eq!(refused.logs.requeued, 1, "{refused:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
        exporter.flush_on(BUDGET, Occasion::BeforeFreeze).await
    };
    assert_eq!(last.logs.exported, 1, "the logs' path answers: {last:?}");
    let lines = lines.all();
    assert!(
        lines[0].contains("collector refused (try later)") && lines[0].contains("signal=\"logs\""),
        "the logs' outage was told: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.contains("export recovered") && line.contains("signal=\"logs\"")),
        "the logs' told outage ends without a line: {lines:#?}"
    );
}

/// Spans overflow their queue, then log records overflow theirs, both sent to one collector that is
/// down: each signal's line says its own drops (the minute's limit is per signal, unit-tested in
/// `fault_log`), and more drops within the minute make no further line.
#[tokio::test]
async fn an_overflow_line_counts_only_its_own_signals_items() {
    let addr = free_addr().await;
    let mut exporter = exporter_to(addr, 1.0);
    let lines = Lines::default();
    {
        let _logging = tracing::subscriber::set_default(lines.subscriber());
        exporter.enqueue((0..2048 + 3).map(span).collect());
        exporter.enqueue_logs(
            (0..LOG_QUEUE_RECORDS + 1000)
                .map(|_| report_record())
                .collect(),
        );
        exporter.enqueue(vec![span(9999)]);
    }
    assert_eq!(exporter.dropped().spans, 4);
    assert_eq!(exporter.dropped().log_records, 1000);
    let lines = lines.all();
    let overflow: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains("export queue full"))
        .collect();
    assert_eq!(overflow.len(), 2, "{lines:#?}");
    assert!(
        overflow[0].contains("signal=\"traces\"")
            && overflow[0].contains("dropped_since_last_line=3 ")
            && overflow[0].contains("dropped_total=3 "),
        "{lines:#?}"
    );
    assert!(
        overflow[1].contains("signal=\"logs\"")
            && overflow[1].contains("dropped_since_last_line=1000 ")
            && overflow[1].contains("dropped_total=1000 "),
        "{lines:#?}"
    );
}

/// A collector whose usual answer takes 300 ms (a remote collector: a new TCP and TLS connection
/// and the request's round trip), well within the default 500 ms flush budget, has one slow
/// moment: its first answer takes 700 ms and the flush times out. Every later answer takes 300 ms,
/// more than an impatient probe's 250 ms: the fourth probe of the outage is patient, has the
/// request's whole time, and delivers the span in the invocations' own flushes.
#[tokio::test]
async fn a_collector_slower_than_a_probe_gets_the_span_at_the_fourth_probe() {
    let mut script = vec![Answer::Slow(700)];
    script.extend([Answer::Slow(300); 10]);
    let collector = Collector::start(script).await;
    let mut exporter = exporter_to(collector.addr, 0.0);
    exporter.enqueue(vec![span(0)]);
    let flush_budget = Duration::from_millis(500);

    assert_cut(
        &exporter
            .flush_on(flush_budget, Occasion::BeforeFreeze)
            .await,
    );
    let mut exported = Vec::new();
    for _ in 0..6 {
        let flush = exporter
            .flush_on(flush_budget, Occasion::BeforeFreeze)
            .await;
        exported.push(flush.exported);
    }
    assert_eq!(
        exported,
        [0, 0, 0, 1, 0, 0],
        "probes 1-3 cut, the 4th patient"
    );
}

/// A hanging collector whose circuit is open at SHUTDOWN (an invocation's flush timed out): the
/// SHUTDOWN flush makes no failure line of its own, and one WARN line says what is lost. The
/// SHUTDOWN probe, patient, takes what is left of the owner's budget, which ends before the
/// lifecycle loop stops waiting for it, so that line is written (without that lead it was not, in
/// 2 of 5 runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_shutdown_a_hanging_collector_still_gets_the_line_saying_what_is_lost() {
    let (receiver, opt, sandbox) = binary_exporting_to_a_receiver("fault-shutdown-hang").await;
    receiver.set_mode(Mode::Hang).await.expect("receiver hangs");
    sandbox.invoke(Invocation::json(&json!({}))).await;
    sandbox.shutdown(ShutdownReason::Spindown).await;

    let lines = extension_lines(&sandbox);
    assert!(
        lines.iter().any(|line| line.contains("the rest is lost")),
        "{lines:#?}"
    );
    std::fs::remove_dir_all(&opt).expect("layer removed");
}
