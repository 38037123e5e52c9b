//! The invocation span (SERVER, named after the function or its HTTP route) and its children, from
//! a closed invocation: the span runs from the moment the runtime received the event to the moment
//! it asked for the next one ([`Timeline`]), and carries the `faas.*` and `cloud.*` attributes, what
//! the event tells, the captured bodies and the outcome.

use std::borrow::Cow;

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanLinks};

use super::batch::consumer;
use super::body_attributes::{self, CaptureSettings};
use super::cold_start::cold_start_span;
use super::links::invocation_links;
use super::names::{lens, semconv};
use super::outcome::{outcome, Failure};
use super::phases::phase_spans;
use super::resource::FunctionInfo;
use super::span::SpanSpec;
use super::timeline::Timeline;
use crate::correlate::InvocationSummary;
use crate::event::{response_status, ParsedBody, Trigger};
use crate::record::{ResultKind, ResultRecord};
use crate::trace_context::Propagators;

/// Room for the attributes an invocation span usually carries (identity, sizes, what the event
/// tells, two captured bodies, the outcome), so that building them rarely moves the list.
const USUAL_ATTRIBUTES: usize = 24;

/// The spans of a closed invocation: the invocation span first, then its phases and the cold start
/// that preceded it, each with a fresh id from `new_span_id`; a batch's links are ordered per
/// `propagators`.
pub fn invocation_spans(
    inv: &InvocationSummary,
    function: &FunctionInfo,
    capture: &CaptureSettings,
    propagators: &Propagators,
    new_span_id: &mut dyn FnMut() -> SpanId,
) -> Vec<SpanData> {
    let timeline = Timeline::of(inv);
    // The invocation span, its phases and a cold start.
    let mut spans = Vec::with_capacity(timeline.phases.len() + 2);
    spans.push(invocation_span(
        inv,
        &timeline,
        function,
        capture,
        propagators,
    ));
    let platform_phases = inv
        .runtime_done
        .as_ref()
        .map_or(&[][..], |d| &d.body.spans[..]);
    spans.extend(phase_spans(
        inv.parent.trace.trace_id,
        inv.span_id,
        &timeline,
        platform_phases,
        new_span_id,
    ));
    if inv.init.is_some() || inv.restore.is_some() {
        spans.extend(cold_start_span(inv, new_span_id()));
    }
    spans
}

/// The invocation span itself.
fn invocation_span(
    inv: &InvocationSummary,
    timeline: &Timeline,
    function: &FunctionInfo,
    capture: &CaptureSettings,
    propagators: &Propagators,
) -> SpanData {
    let (start, end) = (timeline.start, timeline.end);
    // The event and the result are each parsed once, on first use, for trigger inference, the
    // attributes, the response status and redaction.
    let event = inv.event.as_ref().map(|e| match &e.event_parse {
        // The proxy parsed the head to choose the parent: continue from there.
        Some(parse) => e.event.resumed(parse),
        None => e.event.parsed(),
    });
    let result = inv.result.as_ref().map(|r| (r, r.body.parsed()));
    let trigger = event.as_ref().map_or(Trigger::Other, ParsedBody::trigger);

    let mut attributes = identity_attributes(inv, function, trigger);
    push_sizes(inv, &mut attributes);
    // The function's name unless the event or the batch names the span.
    let mut name = None;
    let mut http_status = None;
    if let Some(event) = &event {
        let described = event.attributes(&capture.rules);
        if let Some(span_name) = described.span_name {
            name = Some(Cow::Owned(span_name));
            http_status = result.as_ref().and_then(|(r, body)| proxy_status(r, body));
        }
        attributes.extend(
            described
                .attributes
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, Value::from(v))),
        );
        if let Some(arn) = event.value().and_then(durable_execution_arn) {
            attributes.push(KeyValue::new(lens::DURABLE_EXECUTION_ARN, arn.to_owned()));
        }
        body_attributes::push_event(&mut attributes, event, capture);
    }
    let scan = inv.event.as_ref().and_then(|e| e.records.as_ref());
    let source = event.as_ref().map(ParsedBody::source);
    let batch = source.and_then(|source| consumer(source, scan, propagators, &mut attributes));
    let (kind, links) = match batch {
        Some(batch) => {
            name = Some(batch.name);
            (SpanKind::Consumer, batch.links)
        }
        None => (SpanKind::Server, SpanLinks::default()),
    };
    if let Some(code) = http_status {
        attributes.push(KeyValue::new(semconv::HTTP_RESPONSE_STATUS_CODE, code));
    }
    if let Some((result, body)) = &result {
        body_attributes::push_result(&mut attributes, result.kind, body, capture);
    }
    let (word, failure) = outcome(inv);
    let failure = failure.or_else(|| http_status.and_then(Failure::http_server_error));
    attributes.push(KeyValue::new(lens::STATUS, word.as_str()));

    let mut events = Vec::new();
    let status = match &failure {
        None => Status::Unset,
        Some(f) => f.record(end, &capture.rules, &mut attributes, &mut events),
    };
    let trace = &inv.parent.trace;
    SpanSpec {
        trace_state: inv.parent.trace_state.clone(),
        span_id: inv.span_id,
        parent: trace.parent_span_id.unwrap_or(SpanId::INVALID),
        parent_is_remote: trace.parent_span_id.is_some(),
        kind,
        name: name.unwrap_or(Cow::Borrowed(function.span_name)),
        start,
        end,
        attributes,
        events,
        status,
        links: invocation_links(inv, links),
    }
    .build(trace.trace_id)
}

/// The status code of a proxy-integration response, for HTTP events.
fn proxy_status(result: &ResultRecord, body: &ParsedBody<'_>) -> Option<i64> {
    (result.kind == ResultKind::Response)
        .then(|| response_status(body))
        .flatten()
}

/// Which invocation of which function: `faas.*`, the invoked ARN, `cloud.resource_id` (qualified by
/// the version that ran) and the account.
fn identity_attributes(
    inv: &InvocationSummary,
    function: &FunctionInfo,
    trigger: Trigger,
) -> Vec<KeyValue> {
    // Borrowed: each becomes an attribute value (one copy) or only shapes one.
    let invoked_arn = inv
        .event
        .as_ref()
        .and_then(|e| e.invoked_function_arn.as_deref())
        .or_else(|| {
            inv.invoke
                .as_ref()
                .and_then(|i| i.invoked_function_arn.as_deref())
        });
    let version = inv
        .platform_start
        .as_ref()
        .and_then(|s| s.body.version.as_deref())
        .or(function.settings.version.as_deref());
    let invoked = invoked_arn.map(|arn| function.last_invoked.values(arn, version));
    let mut attributes = Vec::with_capacity(USUAL_ATTRIBUTES);
    attributes.extend([
        KeyValue::new(
            semconv::FAAS_INVOCATION_ID,
            Value::String(inv.request_id.shared().into()),
        ),
        KeyValue::new(semconv::FAAS_TRIGGER, trigger.as_str()),
        KeyValue::new(semconv::FAAS_COLDSTART, inv.coldstart),
    ]);
    let mut account_id = function.account_id.clone().map(Value::from);
    if let Some(invoked) = invoked {
        attributes.push(KeyValue::new(semconv::AWS_LAMBDA_INVOKED_ARN, invoked.arn));
        attributes.push(KeyValue::new(
            semconv::CLOUD_RESOURCE_ID,
            invoked.resource_id,
        ));
        if account_id.is_none() {
            account_id = invoked.account_id.map(Value::from);
        }
    }
    if let Some(account) = account_id {
        attributes.push(KeyValue::new(semconv::CLOUD_ACCOUNT_ID, account));
    }
    if let Some(tenant) = tenant_id(inv) {
        attributes.push(KeyValue::new(lens::TENANT_ID, tenant.to_owned()));
    }
    attributes
}

/// The tenant of a tenant-isolated function: the runtime's `Lambda-Runtime-Aws-Tenant-Id`, else the
/// `tenantId` of `platform.start` (a runtime that bypasses the proxy; `platform.report` comes after
/// the span is built).
fn tenant_id(inv: &InvocationSummary) -> Option<&str> {
    inv.event
        .as_ref()
        .and_then(|e| e.tenant_id.as_deref())
        .or_else(|| {
            inv.platform_start
                .as_ref()
                .and_then(|s| s.body.tenant_id.as_deref())
        })
}

/// A durable function's execution: each replay is an invocation whose event names it.
fn durable_execution_arn(event: &serde_json::Value) -> Option<&str> {
    event.get("DurableExecutionArn")?.as_str()
}

/// The event's and the result's sizes, streaming, and the bytes the platform says were produced.
fn push_sizes(inv: &InvocationSummary, attributes: &mut Vec<KeyValue>) {
    if let Some(event) = &inv.event {
        attributes.push(KeyValue::new(lens::EVENT_SIZE, event.event.size as i64));
    }
    if let Some(result) = &inv.result {
        attributes.push(KeyValue::new(lens::RESPONSE_SIZE, result.body.size as i64));
        attributes.push(KeyValue::new(lens::RESPONSE_STREAMING, result.streaming));
    }
    let done = inv.runtime_done.as_ref().map(|d| &d.body);
    if let Some(bytes) = done.and_then(|d| d.produced_bytes) {
        attributes.push(KeyValue::new(lens::PRODUCED_BYTES, bytes as i64));
    }
    if let Some(ms) = done.and_then(|d| d.duration_ms) {
        attributes.push(KeyValue::new(lens::PLATFORM_DURATION_MS, ms));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use bytes::Bytes;
    use opentelemetry::trace::TraceId;

    use super::*;
    use crate::correlate::{CloseReason, InitSummary, RestoreSummary};
    use crate::record::{BodyCapture, InvocationRecord, RequestId, SpanIdentity};
    use crate::settings::{BodySettings, FunctionSettings, RedactionSettings, SettingsGroup};
    use crate::spans::names;
    use crate::telemetry::{PlatformSpan, PlatformStatus, RuntimeDone, Start, TelemetryEvent};
    use crate::trace_context::ParentChoice;

    /// The spans of `inv` with the tests' function, settings and default propagators.
    fn spans_of(inv: &InvocationSummary) -> Vec<SpanData> {
        invocation_spans(
            inv,
            &function(),
            &settings(),
            &Propagators::default(),
            &mut ids(),
        )
    }

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
            parent: ParentChoice::lambda(
                Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
                t(0),
            ),
            span_id: SpanId::from(7u64),
            coldstart: false,
            init: None,
            restore: None,
            invoke: None,
            event: Some(Box::new(InvocationRecord {
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
                span: SpanIdentity::from_lambda_header(None, t(10)),
                event_parse: None,
                records: None,
            })),
            result: result.map(Box::new),
            runtime_next: None,
            platform_start: Some(TelemetryEvent {
                time: t(9),
                body: Start {
                    request_id: RequestId::new("r-1"),
                    version: Some("7".into()),
                    tracing: None,
                    tenant_id: None,
                },
            }),
            runtime_done: done,
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
        let spans = spans_of(&inv);
        let span = &spans[0];
        // The summary's event is an SQS batch (with no queue ARN): a CONSUMER span.
        assert_eq!(span.name, "process");
        assert_eq!(span.span_kind, SpanKind::Consumer);
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
        let spans = spans_of(&inv);
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
        let spans = spans_of(&inv);
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
            &Propagators::default(),
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
            &Propagators::default(),
            &mut ids(),
        );
        assert_eq!(spans[0].status, Status::error("Runtime.StreamError: boom"));
    }

    /// The record the proxy keeps of a Node.js stream the timeout cut off (`tests/runtimes_node.rs`):
    /// 16 bytes streamed, never ended, abandoned when the runtime was ended past the deadline.
    fn cut_off_stream() -> InvocationSummary {
        let mut streamed = result(ResultKind::Response, b"partial answer, ");
        streamed.streaming = true;
        streamed.body.complete = false;
        streamed.body.ended_at = Some(t(3500));
        streamed.upstream_status = None;
        let mut inv = summary(Some(streamed), None);
        if let Some(event) = inv.event.as_mut() {
            event.deadline_ms = Some(1_700_000_003_000);
        }
        inv
    }

    #[test]
    fn a_stream_cut_off_by_the_timeout_is_on_the_span_as_far_as_it_got() {
        let done = TelemetryEvent {
            time: t(3100),
            body: RuntimeDone {
                request_id: RequestId::new("r-1"),
                status: Some(PlatformStatus::Timeout),
                error_type: Some("Sandbox.Timeout".into()),
                duration_ms: Some(3090.0),
                produced_bytes: Some(16),
                spans: vec![],
                tracing: None,
            },
        };
        let reported = InvocationSummary {
            runtime_done: Some(done),
            ..cut_off_stream()
        };
        let expected = [
            ("lambda_lens.status", Value::from("timeout")),
            ("error.type", Value::from("Sandbox.Timeout")),
            ("lambda_lens.response.size", Value::from(16i64)),
            ("lambda_lens.response.streaming", Value::from(true)),
            (
                "lambda_lens.response.body",
                Value::from("partial answer, …[truncated]"),
            ),
            ("lambda_lens.response.truncated", Value::from(true)),
        ];
        for inv in [reported, cut_off_stream()] {
            let spans = spans_of(&inv);
            let span = &spans[0];
            for (key, value) in &expected {
                assert_eq!(attr(span, key), Some(value), "{key}");
            }
            assert_eq!(span.end_time, t(3500));
        }
    }

    #[test]
    fn the_tenant_and_the_durable_execution_are_attributes() {
        let mut inv = summary(Some(result(ResultKind::Response, b"\"ok\"")), None);
        if let Some(record) = inv.event.as_mut() {
            record.tenant_id = Some("blue".into());
            record.event = capture(
                br#"{"DurableExecutionArn":"arn:aws:lambda:eu-west-1:123456789012:function:orders:7/durable-execution/checkout/e-1","CheckpointToken":"c","InitialExecutionState":{}}"#,
                10,
            );
        }
        let spans = spans_of(&inv);
        assert_eq!(
            attr(&spans[0], "lambda_lens.tenant.id"),
            Some(&Value::from("blue"))
        );
        assert_eq!(
            attr(&spans[0], "lambda_lens.durable_execution.arn"),
            Some(&Value::from(
                "arn:aws:lambda:eu-west-1:123456789012:function:orders:7/durable-execution/checkout/e-1"
            ))
        );
        let plain = summary(Some(result(ResultKind::Response, b"\"ok\"")), None);
        let spans = spans_of(&plain);
        assert_eq!(attr(&spans[0], "lambda_lens.tenant.id"), None);
        assert_eq!(attr(&spans[0], "lambda_lens.durable_execution.arn"), None);
    }

    #[test]
    fn the_platform_names_the_tenant_when_the_runtime_header_did_not() {
        let with_start_tenant = |header: Option<&str>| {
            let mut inv = summary(Some(result(ResultKind::Response, b"\"ok\"")), None);
            if let Some(record) = inv.event.as_mut() {
                record.tenant_id = header.map(str::to_owned);
            }
            if let Some(start) = inv.platform_start.as_mut() {
                start.body.tenant_id = Some("green".into());
            }
            inv
        };
        let tenant =
            |inv: &InvocationSummary| attr(&spans_of(inv)[0], "lambda_lens.tenant.id").cloned();
        assert_eq!(tenant(&with_start_tenant(None)), Some(Value::from("green")));
        assert_eq!(
            tenant(&with_start_tenant(Some("blue"))),
            Some(Value::from("blue"))
        );

        // A runtime that bypasses the proxy: only the platform saw the invocation.
        let mut bypassed = with_start_tenant(None);
        bypassed.event = None;
        if let Some(start) = bypassed.platform_start.as_mut() {
            start.body.tenant_id = Some("red".into());
        }
        assert_eq!(tenant(&bypassed), Some(Value::from("red")));
    }

    #[test]
    fn a_batch_links_to_the_records_the_proxy_read() {
        use crate::event::{Carrier, RecordContext, RecordScan};

        let mut inv = summary(Some(result(ResultKind::Response, b"\"ok\"")), None);
        if let Some(event) = &mut inv.event {
            event.records = Some(RecordScan {
                contexts: vec![RecordContext {
                    record: 1,
                    message_id: Some("m-1".into()),
                    carrier: Carrier::XRay(
                        "Root=1-6759e988-bd862e3fe1be46a994272794;Parent=63995c3f42cd8ad9;Sampled=1"
                            .into(),
                    ),
                }],
                records: 2,
                dropped: 1,
                destination: Some("arn:aws:sqs:eu-west-1:123456789012:jobs".into()),
                complete: true,
            });
        }
        let spans = spans_of(&inv);
        let span = &spans[0];
        assert_eq!(
            (span.name.as_ref(), span.span_kind.clone()),
            ("process jobs", SpanKind::Consumer)
        );
        assert_eq!(span.links.len(), 1);
        assert_eq!(span.links.dropped_count, 1);
        assert_eq!(
            span.links.links[0].span_context.span_id(),
            SpanId::from_hex("63995c3f42cd8ad9").expect("hex")
        );
        assert_eq!(
            attr(span, "messaging.batch.message_count"),
            Some(&Value::from(2i64))
        );
        assert_eq!(
            attr(span, "messaging.operation.name"),
            Some(&Value::from("process"))
        );
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
        let spans = spans_of(&inv);
        let span = &spans[0];
        assert_eq!(span.name, "POST /orders/{id}");
        assert_eq!(span.span_kind, SpanKind::Server);
        assert!(span.links.is_empty());
        assert_eq!(
            attr(span, "http.request.method"),
            Some(&Value::from("POST"))
        );
        assert_eq!(attr(span, "http.route"), Some(&Value::from("/orders/{id}")));
        assert_eq!(
            attr(span, "http.response.status_code"),
            Some(&Value::from(503i64))
        );
        // A 5xx answer fails the span without an exception: the status code says why.
        assert_eq!(span.status, Status::error(""));
        assert_eq!(attr(span, "error.type"), Some(&Value::from("503")));
        assert!(span.events.iter().all(|e| e.name != "exception"));
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

        let (bodies, warnings) = BodySettings::from_lookup(|k| {
            (k == "LAMBDA_LENS_CAPTURE_BODIES").then(|| "false".to_owned())
        });
        assert!(warnings.is_empty());
        let off = CaptureSettings::new(&bodies, &RedactionSettings::default());
        let spans = invocation_spans(&inv, &function(), &off, &Propagators::default(), &mut ids());
        assert_eq!(attr(&spans[0], "lambda_lens.event.body"), None);
        assert_eq!(
            attr(&spans[0], "http.route"),
            Some(&Value::from("/orders/{id}"))
        );
    }

    #[test]
    fn every_name_emitted_is_in_the_name_lists() {
        let events: [&'static [u8]; 10] = [
            br#"{"password":"x","httpMethod":"GET","resource":"/a","path":"/a","requestContext":{"identity":{"sourceIp":"1.2.3.4","userAgent":"ua"},"domainName":"x.example","protocol":"HTTP/1.1"},"headers":{"X-Forwarded-Port":"443"},"queryStringParameters":{"q":"1"}}"#,
            br#"{"routeKey":"GET /b","rawPath":"/b","requestContext":{"http":{"method":"PURGE","protocol":"HTTP/2.0"}}}"#,
            br#"{"Records":[{"eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:eu-west-1:1:q"}]}"#,
            br#"{"Records":[{"EventSource":"aws:sns","Sns":{"TopicArn":"arn:aws:sns:eu-west-1:1:t","MessageId":"m"}}]}"#,
            br#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"1970-01-01T00:00:00.000Z","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#,
            br#"{"Records":[{"eventSource":"aws:dynamodb","eventName":"INSERT","eventSourceARN":"arn:aws:dynamodb:eu-west-1:1:table/T/stream/s","dynamodb":{"ApproximateCreationDateTime":1}}]}"#,
            br#"{"Records":[{"eventSource":"aws:kinesis","eventSourceARN":"arn:aws:kinesis:eu-west-1:1:stream/s"}]}"#,
            br#"{"id":"e","detail-type":"Order Placed","source":"com.example","detail":{}}"#,
            br#"{"detail-type":"Scheduled Event","source":"aws.events","time":"2019-03-01T01:23:45Z","detail":{}}"#,
            br#"{"DurableExecutionArn":"arn:aws:lambda:eu-west-1:1:function:f:1/durable-execution/n/e","CheckpointToken":"t"}"#,
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (event, kind) in events.into_iter().zip(
            [ResultKind::Response, ResultKind::Error]
                .into_iter()
                .cycle(),
        ) {
            let done = TelemetryEvent {
                time: t(50),
                body: RuntimeDone {
                    request_id: RequestId::new("r-1"),
                    status: Some(PlatformStatus::Success),
                    error_type: None,
                    duration_ms: Some(40.0),
                    produced_bytes: Some(5),
                    spans: vec![PlatformSpan {
                        name: "responseLatency".into(),
                        start: t(20),
                        duration_ms: 2.0,
                    }],
                    tracing: None,
                },
            };
            let body: &'static [u8] = match kind {
                ResultKind::Response => br#"{"statusCode":503,"token":"abc"}"#,
                _ => {
                    br#"{"errorType":"E","errorMessage":"m","stackTrace":["at x\n"],"token":"abc"}"#
                }
            };
            let mut inv = summary(Some(result(kind, body)), Some(done));
            if let Some(record) = inv.event.as_mut() {
                record.event = capture(event, 10);
                record.tenant_id = Some("blue".into());
            }
            inv.runtime_next = Some(t(55));
            if kind == ResultKind::Response {
                inv.init = Some(InitSummary {
                    start: Some(t(1)),
                    runtime_done: Some(t(5)),
                    initialization_type: Some("on-demand".into()),
                    phase: Some("init".into()),
                    status: Some(PlatformStatus::Error),
                    error_type: None,
                    duration_ms: Some(4.0),
                });
            } else {
                inv.restore = Some(RestoreSummary {
                    start: Some(t(1)),
                    runtime_done: Some(t(5)),
                    status: Some(PlatformStatus::Success),
                    error_type: None,
                    duration_ms: Some(4.0),
                });
            }
            for span in spans_of(&inv) {
                if span.span_kind == SpanKind::Internal {
                    assert!(
                        names::SPAN_NAMES.contains(&span.name.as_ref()),
                        "{}",
                        span.name
                    );
                }
                for kv in &span.attributes {
                    assert!(
                        names::SPAN_ATTRIBUTES.contains(&kv.key.as_str()),
                        "{}",
                        kv.key
                    );
                    seen.insert(kv.key.to_string());
                }
                for event in span.events.iter() {
                    assert!(names::SPAN_EVENT_NAMES.contains(&event.name.as_ref()));
                    seen.insert(event.name.to_string());
                    for kv in &event.attributes {
                        assert!(
                            names::SPAN_EVENT_ATTRIBUTES.contains(&kv.key.as_str()),
                            "{}",
                            kv.key
                        );
                        seen.insert(kv.key.to_string());
                    }
                }
            }
        }
        // And no listed name is stale: each of these spans' lists was emitted whole.
        for name in names::SPAN_ATTRIBUTES
            .iter()
            .chain(names::SPAN_EVENT_ATTRIBUTES)
            .chain(names::SPAN_EVENT_NAMES)
        {
            assert!(seen.contains(*name), "{name} is never emitted");
        }
    }

    /// `(name, parent, start, end)` of each span, in order.
    fn tree(spans: &[SpanData]) -> Vec<(String, SpanId, SystemTime, SystemTime)> {
        spans
            .iter()
            .map(|s| {
                (
                    s.name.to_string(),
                    s.parent_span_id,
                    s.start_time,
                    s.end_time,
                )
            })
            .collect()
    }

    #[test]
    fn the_invocation_runs_to_the_runtimes_next_and_its_phases_split_it() {
        let done = TelemetryEvent {
            time: t(60),
            body: RuntimeDone {
                request_id: RequestId::new("r-1"),
                status: Some(PlatformStatus::Success),
                error_type: None,
                duration_ms: Some(43.5),
                produced_bytes: None,
                // The platform's phases, on its own clock: they only lend their figures.
                spans: vec![PlatformSpan {
                    name: "responseLatency".into(),
                    start: t(5),
                    duration_ms: 31.25,
                }],
                tracing: None,
            },
        };
        let mut inv = summary(Some(result(ResultKind::Response, b"\"ok\"")), Some(done));
        inv.runtime_next = Some(t(52));
        let spans = spans_of(&inv);
        let me = inv.span_id;
        assert_eq!(
            tree(&spans),
            [
                ("process".into(), spans[0].parent_span_id, t(10), t(52)),
                ("responseLatency".into(), me, t(10), t(40)),
                ("responseDuration".into(), me, t(40), t(50)),
                ("runtimeOverhead".into(), me, t(50), t(52)),
            ]
        );
        assert_eq!(
            attr(&spans[0], "lambda_lens.platform.duration_ms"),
            Some(&Value::from(43.5))
        );
        assert_eq!(
            attr(&spans[1], "lambda_lens.platform.duration_ms"),
            Some(&Value::from(31.25))
        );
        assert_eq!(attr(&spans[2], "lambda_lens.platform.duration_ms"), None);
    }

    #[test]
    fn phases_stay_inside_the_invocation_whatever_the_times_say() {
        // A result that claims to start before the event and a /next before the result's end.
        let mut early = result(ResultKind::Response, b"\"ok\"");
        early.started_at = t(5);
        let mut inv = summary(Some(early), None);
        inv.runtime_next = Some(t(45));
        let spans = spans_of(&inv);
        let (start, end) = (spans[0].start_time, spans[0].end_time);
        assert_eq!(
            (start, end),
            (t(10), t(50)),
            "the /next before the end is ignored"
        );
        assert_eq!(spans.len(), 3, "no runtimeOverhead without a later /next");
        for child in &spans[1..] {
            assert!(
                child.start_time >= start && child.end_time <= end,
                "{}",
                child.name
            );
            assert!(child.end_time >= child.start_time);
        }
    }

    #[test]
    fn the_cold_start_is_the_invocations_sibling_under_the_same_parent() {
        let mut inv = summary(Some(result(ResultKind::Response, b"\"ok\"")), None);
        inv.coldstart = true;
        inv.init = Some(InitSummary {
            start: Some(t(0)),
            runtime_done: Some(t(8)),
            initialization_type: Some("on-demand".into()),
            phase: Some("init".into()),
            status: Some(PlatformStatus::Success),
            error_type: None,
            duration_ms: Some(8.5),
        });
        let spans = spans_of(&inv);
        let init = spans.last().expect("init span");
        assert_eq!(init.name, "init");
        assert_eq!(init.parent_span_id, spans[0].parent_span_id);
        assert_eq!(
            init.parent_span_id,
            SpanId::from_hex("53995c3f42cd8ad8").expect("hex")
        );
        assert!(init.parent_span_is_remote);
        assert_eq!((init.start_time, init.end_time), (t(0), t(8)));
        assert_eq!(
            attr(init, "lambda_lens.init.type"),
            Some(&Value::from("on-demand"))
        );
        assert_eq!(attr(&spans[0], "faas.coldstart"), Some(&Value::from(true)));

        // A restore, with a local root: the restore is a root of the same trace.
        inv.init = None;
        inv.restore = Some(RestoreSummary {
            start: Some(t(1)),
            runtime_done: Some(t(7)),
            status: Some(PlatformStatus::Error),
            error_type: Some("Runtime.AfterRestoreError".into()),
            duration_ms: Some(6.0),
        });
        inv.parent = ParentChoice::lambda(Some("Root=1-5759e988-bd862e3fe1be46a994272793"), t(0));
        let spans = spans_of(&inv);
        let restore = spans.last().expect("restore span");
        assert_eq!(restore.name, "restore");
        assert_eq!(restore.parent_span_id, SpanId::INVALID);
        assert!(!restore.parent_span_is_remote);
        assert_eq!(
            restore.span_context.trace_id(),
            spans[0].span_context.trace_id()
        );
        assert_eq!(
            restore.status,
            Status::error("restore error: Runtime.AfterRestoreError")
        );
        assert_eq!(
            attr(restore, "lambda_lens.restore.duration_ms"),
            Some(&Value::from(6.0))
        );
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
            let spans = spans_of(&inv);
            assert_eq!(spans.len(), 1, "{ms}: no phases without the proxy's times");
            assert!(spans[0].end_time >= spans[0].start_time);
        }
    }
}
