//! Span building: turns a closed invocation ([`InvocationSummary`]) into OpenTelemetry spans, and a
//! late `platform.report` into its follow-up span, per the OpenTelemetry FaaS conventions.
//!
//! The model (see the README for an example trace):
//! - **invocation span** (SERVER, named after the function): from the moment the runtime received the
//!   event to the moment its response or error was complete; `faas.*`, `cloud.*` and
//!   `aws.lambda.invoked_arn` attributes; ERROR status with the error type and message from the `/error`
//!   body, the stream's error trailer, or the platform's `runtimeDone` (timeouts, crashes, out of memory);
//! - **init** (INTERNAL, child): the cold start, `initStart` to `initRuntimeDone`, in the first
//!   invocation's trace;
//! - **responseLatency / responseDuration / runtimeOverhead** (INTERNAL, children): the platform's
//!   `runtimeDone` phases;
//! - **platform.report** (INTERNAL, child): billed duration, memory, init duration; the report arrives
//!   after the freeze, so this span is usually exported at the next thaw, after its parent;
//! - function log lines as `log` span events, the error as an `exception` event.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::resource::EnvResourceDetector;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use serde_json::Value as Json;

use crate::correlate::{CloseReason, InitSummary, InvocationSummary, LateReport};
use crate::event::{response_status, ParsedBody, Trigger};
use crate::record::{BodyCapture, ResultKind};
use crate::redact::{self, BodyEncoding, RedactionRules};
use crate::settings::{BodySettings, FunctionSettings, RedactionSettings};
use crate::telemetry::{PlatformSpan, PlatformStatus, Report, TelemetryEvent};

/// Name of the instrumentation scope on every span.
pub const SCOPE_NAME: &str = "lambda-lens";

/// What lambda-lens knows about the function it is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub version: Option<String>,
    /// `AWS_REGION`.
    pub region: Option<String>,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB).
    pub memory_mb: Option<u64>,
    /// From registration (`accountId` feature); else taken from the invoked ARN.
    pub account_id: Option<String>,
    /// `service.name`: `OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else
    /// the function name.
    pub service_name: String,
}

impl FunctionInfo {
    /// The function as its settings describe it, with the account id from registration.
    pub fn new(settings: &FunctionSettings, account_id: Option<String>) -> Self {
        Self {
            name: settings.name.clone(),
            version: settings.version.clone(),
            region: settings.region.clone(),
            memory_mb: settings.memory_mb,
            account_id,
            service_name: settings.service_name.clone(),
        }
    }
}

/// The resource of every span: function identity, cloud attributes, `OTEL_RESOURCE_ATTRIBUTES`, and
/// `faas.instance` once `platform.initStart` told it.
pub fn resource(function: &FunctionInfo, instance_id: Option<&str>) -> Resource {
    let mut attrs = vec![
        KeyValue::new("cloud.provider", "aws"),
        KeyValue::new("cloud.platform", "aws_lambda"),
        KeyValue::new("faas.name", function.name.clone()),
    ];
    if let Some(v) = &function.version {
        attrs.push(KeyValue::new("faas.version", v.clone()));
    }
    if let Some(region) = &function.region {
        attrs.push(KeyValue::new("cloud.region", region.clone()));
    }
    if let Some(mb) = function.memory_mb {
        attrs.push(KeyValue::new("faas.max_memory", (mb * 1024 * 1024) as i64));
    }
    if let Some(instance) = instance_id {
        attrs.push(KeyValue::new("faas.instance", instance.to_owned()));
    }
    Resource::builder_empty()
        .with_attributes(attrs)
        .with_detector(Box::new(EnvResourceDetector::new()))
        .with_service_name(function.service_name.clone())
        .build()
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

fn context(trace_id: opentelemetry::trace::TraceId, span_id: SpanId) -> SpanContext {
    SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    )
}

struct SpanSpec {
    span_id: SpanId,
    parent: SpanId,
    parent_is_remote: bool,
    kind: SpanKind,
    name: Cow<'static, str>,
    start: SystemTime,
    end: SystemTime,
    attributes: Vec<KeyValue>,
    events: Vec<opentelemetry::trace::Event>,
    status: Status,
}

fn span(trace_id: opentelemetry::trace::TraceId, spec: SpanSpec) -> SpanData {
    let mut events = SpanEvents::default();
    events.events = spec.events;
    SpanData {
        span_context: context(trace_id, spec.span_id),
        parent_span_id: spec.parent,
        parent_span_is_remote: spec.parent_is_remote,
        span_kind: spec.kind,
        name: spec.name,
        start_time: spec.start,
        end_time: spec.end.max(spec.start),
        attributes: spec.attributes,
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status: spec.status,
        instrumentation_scope: scope(),
    }
}

/// A platform duration as a `Duration`; `None` for negative, non-finite or absurd values, which the
/// Telemetry API may send and which must never panic here.
fn platform_duration(ms: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(ms / 1000.0).ok()
}

/// `start` plus `ms`, or `start` when `ms` is unusable.
fn after(start: SystemTime, ms: f64) -> SystemTime {
    platform_duration(ms)
        .and_then(|d| start.checked_add(d))
        .unwrap_or(start)
}

/// An error's type and message, from the most specific source available.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    error_type: String,
    message: String,
    stack: Vec<String>,
}

/// Parses `{"errorType","errorMessage","stackTrace"}` from an `/error` body (possibly cut short).
fn error_body(head: &[u8]) -> Option<Failure> {
    let json: Json = serde_json::from_slice(head).ok()?;
    let error_type = json.get("errorType")?.as_str()?.to_owned();
    let message = json
        .get("errorMessage")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned();
    let stack = json
        .get("stackTrace")
        .and_then(Json::as_array)
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| l.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Some(Failure {
        error_type,
        message,
        stack,
    })
}

/// The invocation's outcome: its platform status word and, if it failed, why.
fn outcome(inv: &InvocationSummary) -> (&'static str, Option<Failure>) {
    let done = inv.runtime_done.as_ref().map(|d| &d.body);
    let platform_status = done.and_then(|d| d.status.as_ref());
    let platform_error = done.and_then(|d| d.error_type.clone());
    if let Some(result) = &inv.result {
        if matches!(result.kind, ResultKind::Error | ResultKind::InitError) {
            let failure = error_body(&result.body.head).unwrap_or_else(|| Failure {
                error_type: result
                    .error_type
                    .clone()
                    .or(platform_error.clone())
                    .unwrap_or_else(|| "Unhandled".into()),
                message: String::new(),
                stack: Vec::new(),
            });
            return ("error", Some(failure));
        }
        if let Some(error) = &result.upstream_error {
            return (
                "error",
                Some(Failure {
                    error_type: "LambdaLens.UpstreamUnavailable".into(),
                    message: error.clone(),
                    stack: Vec::new(),
                }),
            );
        }
        if let Some(status) = result.upstream_status.filter(|s| *s >= 400) {
            let failure = error_body(&result.upstream_body.head).unwrap_or(Failure {
                error_type: format!("Runtime.HTTP{status}"),
                message: String::new(),
                stack: Vec::new(),
            });
            return ("error", Some(failure));
        }
        if let (true, Some(error_type)) = (result.streaming, &result.error_type) {
            let message = result
                .error_body_trailer
                .as_deref()
                .map(decode_base64_lossy)
                .unwrap_or_default();
            return (
                "error",
                Some(Failure {
                    error_type: error_type.clone(),
                    message,
                    stack: Vec::new(),
                }),
            );
        }
    }
    match (platform_status, inv.reason) {
        (Some(PlatformStatus::Success), _) => ("success", None),
        (Some(status), _) => {
            let word = match status {
                PlatformStatus::Timeout => "timeout",
                PlatformStatus::Failure => "failure",
                _ => "error",
            };
            let error_type =
                platform_error.unwrap_or_else(|| format!("Platform.{}", status.as_str()));
            let message = match status {
                PlatformStatus::Timeout => "the function timed out".to_owned(),
                _ => format!("the platform reported {}", status.as_str()),
            };
            (
                word,
                Some(Failure {
                    error_type,
                    message,
                    stack: Vec::new(),
                }),
            )
        }
        (None, CloseReason::DeadlinePassed) => (
            "timeout",
            Some(Failure {
                error_type: "Sandbox.Timeout".into(),
                message: "the deadline passed without a response".into(),
                stack: Vec::new(),
            }),
        ),
        (None, CloseReason::Incomplete) if inv.result.is_none() => (
            "incomplete",
            Some(Failure {
                error_type: "LambdaLens.Incomplete".into(),
                message: "the environment shut down before the invocation ended".into(),
                stack: Vec::new(),
            }),
        ),
        (None, _) => ("success", None),
    }
}

/// Error bodies in trailers are base64 (reference §1.3); show the text when it decodes.
fn decode_base64_lossy(b64: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_or_else(
            |_| b64.to_owned(),
            |bytes| String::from_utf8_lossy(&bytes).into_owned(),
        )
}

/// The function ARN with its qualifier replaced by the version that ran (`cloud.resource_id`).
fn resource_id(invoked_arn: &str, version: Option<&str>) -> String {
    let parts: Vec<&str> = invoked_arn.split(':').collect();
    if parts.len() < 7 || parts[5] != "function" {
        return invoked_arn.to_owned();
    }
    let base = parts[..7].join(":");
    match version {
        Some(v) if v != "$LATEST" => format!("{base}:{v}"),
        _ => base,
    }
}

fn platform_spans_of(
    trace_id: opentelemetry::trace::TraceId,
    parent: SpanId,
    spans: &[PlatformSpan],
    new_span_id: &mut dyn FnMut() -> SpanId,
) -> Vec<SpanData> {
    spans
        .iter()
        .map(|p| {
            span(
                trace_id,
                SpanSpec {
                    span_id: new_span_id(),
                    parent,
                    parent_is_remote: false,
                    kind: SpanKind::Internal,
                    name: Cow::Owned(p.name.clone()),
                    start: p.start,
                    end: after(p.start, p.duration_ms),
                    attributes: vec![KeyValue::new(
                        "lambda_lens.platform.duration_ms",
                        p.duration_ms,
                    )],
                    events: Vec::new(),
                    status: Status::Unset,
                },
            )
        })
        .collect()
}

fn init_span(
    trace_id: opentelemetry::trace::TraceId,
    parent: SpanId,
    init: &InitSummary,
    span_id: SpanId,
) -> Option<SpanData> {
    let start = init.start?;
    let end = init
        .runtime_done
        .or_else(|| init.duration_ms.map(|ms| after(start, ms)))
        .unwrap_or(start);
    let mut attributes = Vec::new();
    if let Some(t) = &init.initialization_type {
        attributes.push(KeyValue::new("aws.lambda.init.type", t.clone()));
    }
    if let Some(p) = &init.phase {
        attributes.push(KeyValue::new("aws.lambda.init.phase", p.clone()));
    }
    if let Some(ms) = init.duration_ms {
        attributes.push(KeyValue::new("aws.lambda.init.duration_ms", ms));
    }
    let status = match &init.status {
        Some(PlatformStatus::Success) | None => Status::Unset,
        Some(s) => {
            let error_type = init
                .error_type
                .clone()
                .unwrap_or_else(|| s.as_str().to_owned());
            attributes.push(KeyValue::new("error.type", error_type.clone()));
            Status::error(format!("init {}: {error_type}", s.as_str()))
        }
    };
    Some(span(
        trace_id,
        SpanSpec {
            span_id,
            parent,
            parent_is_remote: false,
            kind: SpanKind::Internal,
            name: Cow::Borrowed("init"),
            start,
            end,
            attributes,
            events: Vec::new(),
            status,
        },
    ))
}

fn report_span(
    trace_id: opentelemetry::trace::TraceId,
    parent: SpanId,
    request_id: &str,
    report: &TelemetryEvent<Report>,
    span_id: SpanId,
) -> SpanData {
    let (time, report) = (report.time, &report.body);
    let overhead = report.spans.iter().find(|s| s.name == "extensionOverhead");
    let (start, end) = match overhead {
        Some(o) => (o.start, after(o.start, o.duration_ms)),
        None => (time, time),
    };
    let m = &report.metrics;
    let mut attributes = vec![KeyValue::new("faas.invocation_id", request_id.to_owned())];
    let mut push_f = |key: &'static str, v: Option<f64>| {
        if let Some(v) = v {
            attributes.push(KeyValue::new(key, v));
        }
    };
    push_f("lambda_lens.report.duration_ms", m.duration_ms);
    push_f("lambda_lens.report.init_duration_ms", m.init_duration_ms);
    push_f(
        "lambda_lens.report.restore_duration_ms",
        m.restore_duration_ms,
    );
    for (key, v) in [
        (
            "lambda_lens.report.billed_duration_ms",
            m.billed_duration_ms,
        ),
        ("lambda_lens.report.memory_size_mb", m.memory_size_mb),
        (
            "lambda_lens.report.max_memory_used_mb",
            m.max_memory_used_mb,
        ),
    ] {
        if let Some(v) = v {
            attributes.push(KeyValue::new(key, v as i64));
        }
    }
    if let Some(o) = overhead {
        attributes.push(KeyValue::new(
            "lambda_lens.report.extension_overhead_ms",
            o.duration_ms,
        ));
    }
    if let Some(status) = &report.status {
        attributes.push(KeyValue::new(
            "lambda_lens.status",
            status.as_str().to_owned(),
        ));
    }
    span(
        trace_id,
        SpanSpec {
            span_id,
            parent,
            parent_is_remote: false,
            kind: SpanKind::Internal,
            name: Cow::Borrowed("platform.report"),
            start,
            end,
            attributes,
            events: Vec::new(),
            status: Status::Unset,
        },
    )
}

/// How bodies appear on invocation spans (`LAMBDA_LENS_CAPTURE_BODIES`, the redaction variables and
/// `LAMBDA_LENS_CAPTURE_BYTES`).
#[derive(Debug, Clone)]
pub struct CaptureSettings {
    /// Record event, response and error bodies as span attributes.
    pub enabled: bool,
    /// Bytes kept per body after redaction.
    pub limit: usize,
    /// What is redacted before anything leaves the process.
    pub rules: RedactionRules,
}

impl CaptureSettings {
    /// Bodies as `bodies` says, redacted as `redaction` says.
    pub fn new(bodies: &BodySettings, redaction: &RedactionSettings) -> Self {
        Self {
            enabled: bodies.on_spans,
            limit: bodies.capture_bytes,
            rules: RedactionRules::new(redaction),
        }
    }
}

/// Attribute names of one captured body.
struct BodyKeys {
    body: &'static str,
    truncated: &'static str,
    encoding: &'static str,
    redactions: &'static str,
}

const EVENT_KEYS: BodyKeys = BodyKeys {
    body: "lambda_lens.event.body",
    truncated: "lambda_lens.event.truncated",
    encoding: "lambda_lens.event.encoding",
    redactions: "lambda_lens.event.redactions",
};
const RESPONSE_KEYS: BodyKeys = BodyKeys {
    body: "lambda_lens.response.body",
    truncated: "lambda_lens.response.truncated",
    encoding: "lambda_lens.response.encoding",
    redactions: "lambda_lens.response.redactions",
};
const ERROR_KEYS: BodyKeys = BodyKeys {
    body: "lambda_lens.error.body",
    truncated: "lambda_lens.error.truncated",
    encoding: "lambda_lens.error.encoding",
    redactions: "lambda_lens.error.redactions",
};

/// A captured body, parsed at most once for everything that reads it.
fn parsed(body: &BodyCapture) -> ParsedBody<'_> {
    ParsedBody::new(&body.head, body.complete && !body.truncated())
}

/// A body as attributes: redacted first, then cut to the limit (see [`redact::captured_body`]).
fn push_body(
    attributes: &mut Vec<KeyValue>,
    keys: &BodyKeys,
    body: &ParsedBody<'_>,
    settings: &CaptureSettings,
) {
    let captured = redact::captured_body(body, &settings.rules, settings.limit);
    let encoding = match captured.encoding {
        BodyEncoding::Json => "json",
        BodyEncoding::Text => "text",
        BodyEncoding::Base64 => "base64",
    };
    attributes.push(KeyValue::new(keys.body, captured.text));
    attributes.push(KeyValue::new(keys.truncated, captured.truncated));
    attributes.push(KeyValue::new(keys.encoding, encoding));
    if captured.redactions > 0 {
        attributes.push(KeyValue::new(
            keys.redactions,
            i64::from(captured.redactions),
        ));
    }
}

/// The spans of a closed invocation: the invocation span first, then its children.
pub fn invocation_spans(
    inv: &InvocationSummary,
    function: &FunctionInfo,
    capture: &CaptureSettings,
    new_span_id: &mut dyn FnMut() -> SpanId,
) -> Vec<SpanData> {
    let trace_id = inv.trace.trace_id;
    let done = inv.runtime_done.as_ref();
    let start = inv
        .event
        .as_ref()
        .map(|e| e.received_at)
        .or_else(|| inv.platform_start.as_ref().map(|s| s.time))
        .or_else(|| {
            done.and_then(|d| {
                d.body
                    .duration_ms
                    .and_then(platform_duration)
                    .and_then(|dur| d.time.checked_sub(dur))
            })
        })
        .unwrap_or_else(SystemTime::now);
    let end = inv
        .result
        .as_ref()
        .map(|r| r.body.ended_at.unwrap_or(r.started_at))
        .or_else(|| {
            done.and_then(|d| {
                d.body
                    .spans
                    .iter()
                    .find(|s| s.name == "responseDuration")
                    .map(|s| after(s.start, s.duration_ms))
            })
        })
        .or_else(|| done.map(|d| d.time))
        .unwrap_or_else(SystemTime::now);

    let request_id = inv.request_id.as_str();
    let invoked_arn = inv
        .event
        .as_ref()
        .and_then(|e| e.invoked_function_arn.clone())
        .or_else(|| {
            inv.invoke
                .as_ref()
                .and_then(|i| i.invoked_function_arn.clone())
        });
    let version = inv
        .platform_start
        .as_ref()
        .and_then(|s| s.body.version.clone())
        .or_else(|| function.version.clone());
    let account_id = function.account_id.clone().or_else(|| {
        invoked_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(4))
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
    });
    // The event and the result are each parsed once, on first use, for trigger inference, the
    // attributes, the response status and redaction.
    let event = inv.event.as_ref().map(|e| parsed(&e.event));
    let result = inv.result.as_ref().map(|r| (r, parsed(&r.body)));
    let trigger = event.as_ref().map_or(Trigger::Other, ParsedBody::trigger);

    let mut attributes = vec![
        KeyValue::new("faas.invocation_id", request_id.to_owned()),
        KeyValue::new("faas.trigger", trigger.as_str()),
        KeyValue::new("faas.coldstart", inv.coldstart),
    ];
    if let Some(arn) = &invoked_arn {
        attributes.push(KeyValue::new("aws.lambda.invoked_arn", arn.clone()));
        attributes.push(KeyValue::new(
            "cloud.resource_id",
            resource_id(arn, version.as_deref()),
        ));
    }
    if let Some(account) = account_id {
        attributes.push(KeyValue::new("cloud.account.id", account));
    }
    if let Some(event) = &inv.event {
        attributes.push(KeyValue::new(
            "lambda_lens.event.size",
            event.event.size as i64,
        ));
    }
    if let Some(result) = &inv.result {
        attributes.push(KeyValue::new(
            "lambda_lens.response.size",
            result.body.size as i64,
        ));
        attributes.push(KeyValue::new(
            "lambda_lens.response.streaming",
            result.streaming,
        ));
    }
    if let Some(bytes) = done.and_then(|d| d.body.produced_bytes) {
        attributes.push(KeyValue::new("lambda_lens.produced_bytes", bytes as i64));
    }
    let mut name = Cow::Owned(function.name.clone());
    let mut http_status = None;
    if let Some(event) = &event {
        let shaped = event.attributes(&capture.rules);
        if let Some(span_name) = shaped.span_name {
            name = Cow::Owned(span_name);
            http_status = result
                .as_ref()
                .filter(|(r, _)| r.kind == ResultKind::Response)
                .and_then(|(_, body)| response_status(body));
        }
        attributes.extend(
            shaped
                .attributes
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, Value::from(v))),
        );
        if capture.enabled {
            push_body(&mut attributes, &EVENT_KEYS, event, capture);
        }
    }
    if let Some(code) = http_status {
        attributes.push(KeyValue::new("http.response.status_code", code));
    }
    if let (Some((result, body)), true) = (&result, capture.enabled) {
        let keys = match result.kind {
            ResultKind::Response => &RESPONSE_KEYS,
            ResultKind::Error | ResultKind::InitError => &ERROR_KEYS,
        };
        push_body(&mut attributes, keys, body, capture);
    }
    let (status_word, mut failure) = outcome(inv);
    // HTTP server spans are errors for 5xx answers (OpenTelemetry HTTP conventions), even when the
    // function itself returned normally.
    if let (None, Some(code)) = (&failure, http_status.filter(|c| *c >= 500)) {
        failure = Some(Failure {
            error_type: code.to_string(),
            message: format!("HTTP {code}"),
            stack: Vec::new(),
        });
    }
    attributes.push(KeyValue::new("lambda_lens.status", status_word));

    let mut events: Vec<opentelemetry::trace::Event> = inv
        .logs
        .iter()
        .map(|line| {
            // Function logs may print secrets too: they are redacted like bodies.
            let (message, _) = redact::redact_text(&line.message, &capture.rules);
            let mut attrs = vec![KeyValue::new("log.message", message)];
            if let Some(level) = &line.level {
                attrs.push(KeyValue::new("log.level", level.clone()));
            }
            opentelemetry::trace::Event::new("log", line.time, attrs, 0)
        })
        .collect();
    let status = match &failure {
        None => Status::Unset,
        Some(f) => {
            // Error messages and stack traces can quote secrets: redacted like bodies and logs.
            let (message, _) = redact::redact_text(&f.message, &capture.rules);
            let (stack, _) = redact::redact_text(&f.stack.join(""), &capture.rules);
            attributes.push(KeyValue::new("error.type", f.error_type.clone()));
            let mut attrs = vec![
                KeyValue::new("exception.type", f.error_type.clone()),
                KeyValue::new("exception.message", message.clone()),
            ];
            if !stack.is_empty() {
                attrs.push(KeyValue::new("exception.stacktrace", stack));
            }
            events.push(opentelemetry::trace::Event::new("exception", end, attrs, 0));
            if message.is_empty() {
                Status::error(f.error_type.clone())
            } else {
                Status::error(format!("{}: {message}", f.error_type))
            }
        }
    };

    let mut spans = vec![span(
        trace_id,
        SpanSpec {
            span_id: inv.span_id,
            parent: inv.trace.parent_span_id.unwrap_or(SpanId::INVALID),
            parent_is_remote: inv.trace.parent_span_id.is_some(),
            kind: SpanKind::Server,
            name,
            start,
            end,
            attributes,
            events,
            status,
        },
    )];
    if let Some(init) = &inv.init {
        spans.extend(init_span(trace_id, inv.span_id, init, new_span_id()));
    }
    if let Some(done) = done {
        spans.extend(platform_spans_of(
            trace_id,
            inv.span_id,
            &done.body.spans,
            new_span_id,
        ));
    }
    if let Some(report) = &inv.report {
        spans.push(report_span(
            trace_id,
            inv.span_id,
            request_id,
            report,
            new_span_id(),
        ));
    }
    spans
}

/// The follow-up span of a report that arrived after its invocation was exported.
pub fn late_report_span(late: &LateReport, span_id: SpanId) -> SpanData {
    report_span(
        late.trace_id,
        late.invocation_span_id,
        late.report.body.request_id.as_str(),
        &late.report,
        span_id,
    )
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use opentelemetry::trace::TraceId;

    use super::*;
    use crate::record::{BodyCapture, InvocationRecord, RequestId, ResultRecord, SpanIdentity};
    use crate::settings::SettingsGroup;
    use crate::telemetry::{RuntimeDone, Start};
    use crate::trace_context::TraceContext;

    fn t(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    fn function() -> FunctionInfo {
        let (settings, _) = FunctionSettings::from_lookup(|k| match k {
            "AWS_LAMBDA_FUNCTION_NAME" => Some("orders".into()),
            "AWS_LAMBDA_FUNCTION_VERSION" => Some("7".into()),
            "AWS_REGION" => Some("eu-west-1".into()),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => Some("256".into()),
            "OTEL_RESOURCE_ATTRIBUTES" => Some("team=a,service.name=shop".into()),
            _ => None,
        });
        FunctionInfo::new(&settings, None)
    }

    fn capture(body: &'static [u8], at: u64) -> BodyCapture {
        BodyCapture {
            size: body.len() as u64,
            head: Bytes::from_static(body),
            complete: true,
            first_byte_at: Some(t(at)),
            ended_at: Some(t(at)),
        }
    }

    fn summary(
        result: Option<ResultRecord>,
        done: Option<TelemetryEvent<RuntimeDone>>,
    ) -> InvocationSummary {
        InvocationSummary {
            request_id: RequestId::new("r-1"),
            reason: CloseReason::RuntimeDone,
            trace: TraceContext::from_xray_header(
                Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
                t(0),
            ),
            span_id: SpanId::from(7u64),
            coldstart: false,
            init: None,
            invoke: None,
            event: Some(InvocationRecord {
                request_id: RequestId::new("r-1"),
                deadline_ms: None,
                invoked_function_arn: Some(
                    "arn:aws:lambda:eu-west-1:123456789012:function:orders:live".into(),
                ),
                trace_header: None,
                client_context: None,
                cognito_identity: None,
                tenant_id: None,
                content_type: None,
                upstream_status: 200,
                received_at: t(10),
                event: capture(br#"{"Records":[{"eventSource":"aws:sqs"}]}"#, 10),
                span: SpanIdentity::new(None, t(10)),
            }),
            result,
            platform_start: Some(TelemetryEvent {
                time: t(9),
                body: Start {
                    request_id: RequestId::new("r-1"),
                    version: Some("7".into()),
                    tracing: None,
                },
            }),
            runtime_done: done,
            report: None,
            logs: Vec::new(),
            dropped_logs: 0,
        }
    }

    fn result(kind: ResultKind, body: &'static [u8]) -> ResultRecord {
        ResultRecord {
            kind,
            request_id: Some(RequestId::new("r-1")),
            started_at: t(40),
            streaming: false,
            content_type: None,
            error_type: None,
            error_body_trailer: None,
            xray_error_cause: None,
            body: capture(body, 50),
            upstream_status: Some(202),
            upstream_error: None,
            upstream_body: BodyCapture::default(),
        }
    }

    fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    fn settings() -> CaptureSettings {
        CaptureSettings::new(&BodySettings::default(), &RedactionSettings::default())
    }

    fn ids() -> impl FnMut() -> SpanId {
        let mut n = 100u64;
        move || {
            n += 1;
            SpanId::from(n)
        }
    }

    #[test]
    fn a_successful_invocation_span_carries_the_faas_attributes() {
        let inv = summary(Some(result(ResultKind::Response, b"\"ok\"")), None);
        let spans = invocation_spans(&inv, &function(), &settings(), &mut ids());
        let span = &spans[0];
        assert_eq!(span.name, "orders");
        assert_eq!(span.span_kind, SpanKind::Server);
        assert_eq!(
            span.span_context.trace_id(),
            TraceId::from_hex("5759e988bd862e3fe1be46a994272793").expect("hex")
        );
        assert_eq!(
            span.parent_span_id,
            SpanId::from_hex("53995c3f42cd8ad8").expect("hex")
        );
        assert!(span.parent_span_is_remote);
        assert_eq!((span.start_time, span.end_time), (t(10), t(50)));
        assert_eq!(span.status, Status::Unset);
        assert_eq!(attr(span, "faas.trigger"), Some(&Value::from("pubsub")));
        assert_eq!(attr(span, "faas.coldstart"), Some(&Value::from(false)));
        assert_eq!(
            attr(span, "cloud.resource_id"),
            Some(&Value::from(
                "arn:aws:lambda:eu-west-1:123456789012:function:orders:7"
            ))
        );
        assert_eq!(
            attr(span, "cloud.account.id"),
            Some(&Value::from("123456789012"))
        );
        assert_eq!(
            attr(span, "lambda_lens.status"),
            Some(&Value::from("success"))
        );
        assert_eq!(
            attr(span, "lambda_lens.response.size"),
            Some(&Value::from(4i64))
        );
    }

    #[test]
    fn an_error_body_gives_the_status_error_type_and_exception_event() {
        let body =
            br#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":["  File x\n"]}"#;
        let inv = summary(Some(result(ResultKind::Error, body)), None);
        let spans = invocation_spans(&inv, &function(), &settings(), &mut ids());
        let span = &spans[0];
        assert_eq!(span.status, Status::error("ValueError: boom"));
        assert_eq!(attr(span, "error.type"), Some(&Value::from("ValueError")));
        let exception = span
            .events
            .iter()
            .find(|e| e.name == "exception")
            .expect("event");
        assert!(exception
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "exception.stacktrace"
                && kv.value == Value::from("  File x\n")));
    }

    #[test]
    fn error_messages_and_stacks_are_redacted() {
        let body = br#"{"errorMessage":"bad login password=hunter2","errorType":"AuthError","stackTrace":["token=abc123\n"]}"#;
        let inv = summary(Some(result(ResultKind::Error, body)), None);
        let spans = invocation_spans(&inv, &function(), &settings(), &mut ids());
        assert_eq!(
            spans[0].status,
            Status::error("AuthError: bad login password=[REDACTED]")
        );
        let exception = spans[0]
            .events
            .iter()
            .find(|e| e.name == "exception")
            .expect("event");
        let text: Vec<String> = exception
            .attributes
            .iter()
            .map(|kv| kv.value.to_string())
            .collect();
        assert!(
            text.iter()
                .all(|t| !t.contains("hunter2") && !t.contains("abc123")),
            "{text:?}"
        );
    }

    #[test]
    fn platform_timeouts_and_stream_errors_are_errors() {
        let done = TelemetryEvent {
            time: t(2000),
            body: RuntimeDone {
                request_id: RequestId::new("r-1"),
                status: Some(PlatformStatus::Timeout),
                error_type: Some("Sandbox.Timeout".into()),
                duration_ms: Some(2000.0),
                produced_bytes: None,
                spans: vec![],
                tracing: None,
            },
        };
        let spans = invocation_spans(
            &summary(None, Some(done)),
            &function(),
            &settings(),
            &mut ids(),
        );
        assert_eq!(
            spans[0].status,
            Status::error("Sandbox.Timeout: the function timed out")
        );
        assert_eq!(
            attr(&spans[0], "lambda_lens.status"),
            Some(&Value::from("timeout"))
        );
        assert_eq!(spans[0].end_time, t(2000));

        let mut streamed = result(ResultKind::Response, b"partial");
        streamed.streaming = true;
        streamed.error_type = Some("Runtime.StreamError".into());
        streamed.error_body_trailer = Some("Ym9vbQ==".into());
        let spans = invocation_spans(
            &summary(Some(streamed), None),
            &function(),
            &settings(),
            &mut ids(),
        );
        assert_eq!(spans[0].status, Status::error("Runtime.StreamError: boom"));
    }

    #[test]
    fn bodies_are_captured_redacted_and_http_events_named_by_route() {
        let mut inv = summary(
            Some(result(
                ResultKind::Response,
                br#"{"statusCode":503,"body":"down","token":"abc"}"#,
            )),
            None,
        );
        if let Some(event) = inv.event.as_mut() {
            event.event = capture(
                br#"{"httpMethod":"POST","resource":"/orders/{id}","path":"/orders/7","requestContext":{"stage":"prod"},"headers":{"Authorization":"Bearer x"},"password":"hunter2"}"#,
                10,
            );
        }
        let spans = invocation_spans(&inv, &function(), &settings(), &mut ids());
        let span = &spans[0];
        assert_eq!(span.name, "POST /orders/{id}");
        assert_eq!(
            attr(span, "http.request.method"),
            Some(&Value::from("POST"))
        );
        assert_eq!(attr(span, "http.route"), Some(&Value::from("/orders/{id}")));
        assert_eq!(
            attr(span, "http.response.status_code"),
            Some(&Value::from(503i64))
        );
        assert_eq!(span.status, Status::error("503: HTTP 503"));
        let event_body = attr(span, "lambda_lens.event.body")
            .expect("event body")
            .as_str();
        assert!(
            !event_body.contains("hunter2") && !event_body.contains("Bearer x"),
            "{event_body}"
        );
        assert_eq!(
            attr(span, "lambda_lens.event.encoding"),
            Some(&Value::from("json"))
        );
        assert_eq!(
            attr(span, "lambda_lens.event.truncated"),
            Some(&Value::from(false))
        );
        assert_eq!(
            attr(span, "lambda_lens.event.redactions"),
            Some(&Value::from(2i64))
        );
        assert_eq!(
            attr(span, "lambda_lens.response.body"),
            Some(&Value::from(
                r#"{"statusCode":503,"body":"down","token":"[REDACTED]"}"#
            ))
        );

        inv.logs.push(crate::correlate::LogLine {
            time: t(20),
            message: "login password=hunter2 with card 4111 1111 1111 1111".into(),
            level: None,
        });
        let spans = invocation_spans(&inv, &function(), &settings(), &mut ids());
        let log = spans[0]
            .events
            .iter()
            .find(|e| e.name == "log")
            .expect("log event");
        assert_eq!(
            log.attributes[0].value,
            Value::from("login password=[REDACTED] with card [REDACTED]")
        );

        let (bodies, warnings) = BodySettings::from_lookup(|k| {
            (k == "LAMBDA_LENS_CAPTURE_BODIES").then(|| "false".to_owned())
        });
        assert!(warnings.is_empty());
        let off = CaptureSettings::new(&bodies, &RedactionSettings::default());
        let spans = invocation_spans(&inv, &function(), &off, &mut ids());
        assert_eq!(attr(&spans[0], "lambda_lens.event.body"), None);
        assert_eq!(
            attr(&spans[0], "http.route"),
            Some(&Value::from("/orders/{id}"))
        );
    }

    #[test]
    fn resource_names_the_service_and_function() {
        let f = function();
        assert_eq!(
            f.service_name, "shop",
            "service.name from OTEL_RESOURCE_ATTRIBUTES"
        );
        let r = resource(&f, Some("2026/11/24/[7]abc"));
        let get = |k: &'static str| r.get(&opentelemetry::Key::from_static_str(k));
        assert_eq!(get("faas.name"), Some(Value::from("orders")));
        assert_eq!(get("faas.version"), Some(Value::from("7")));
        assert_eq!(
            get("faas.max_memory"),
            Some(Value::from(256i64 * 1024 * 1024))
        );
        assert_eq!(get("faas.instance"), Some(Value::from("2026/11/24/[7]abc")));
        assert_eq!(get("cloud.region"), Some(Value::from("eu-west-1")));
        assert_eq!(get("service.name"), Some(Value::from("shop")));
    }

    #[test]
    fn absurd_platform_durations_never_panic() {
        for ms in [-5.0, f64::NAN, f64::INFINITY, 1e300] {
            let done = TelemetryEvent {
                time: t(100),
                body: RuntimeDone {
                    request_id: RequestId::new("r-1"),
                    status: Some(PlatformStatus::Success),
                    error_type: None,
                    duration_ms: Some(ms),
                    produced_bytes: None,
                    spans: vec![PlatformSpan {
                        name: "responseLatency".into(),
                        start: t(90),
                        duration_ms: ms,
                    }],
                    tracing: None,
                },
            };
            let mut inv = summary(None, Some(done));
            inv.event = None;
            inv.platform_start = None;
            let spans = invocation_spans(&inv, &function(), &settings(), &mut ids());
            assert_eq!(spans.len(), 2, "{ms}");
            assert_eq!(spans[1].start_time, t(90));
            assert_eq!(spans[1].end_time, t(90));
        }
    }

    #[test]
    fn resource_id_replaces_the_qualifier_with_the_version() {
        let arn = "arn:aws:lambda:us-east-1:1:function:f";
        assert_eq!(
            resource_id(&format!("{arn}:alias"), Some("3")),
            format!("{arn}:3")
        );
        assert_eq!(resource_id(&format!("{arn}:alias"), Some("$LATEST")), arn);
        assert_eq!(resource_id(arn, None), arn);
        assert_eq!(resource_id("not-an-arn", Some("1")), "not-an-arn");
    }
}
