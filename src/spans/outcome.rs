//! How an invocation ended: its outcome word (`lambda_lens.status`), and if it failed, why — from
//! the `/error` body, an upstream rejection, a stream's error trailers, the platform's `runtimeDone`
//! or the way it was closed — recorded as the span's ERROR status, `error.type` and the
//! `exception` event.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{Event, Status};
use opentelemetry::KeyValue;
use serde_json::Value as Json;

use super::names::semconv;
use crate::correlate::{CloseReason, InvocationSummary};
use crate::record::{ResultKind, ResultRecord};
use crate::redact::{self, RedactionRules};
use crate::telemetry::PlatformStatus;

/// The invocation's outcome word, the value of `lambda_lens.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationStatus {
    /// It returned a response (an HTTP 5xx answer included: see the span's status).
    Success,
    /// It returned an error, or the platform reported one.
    Error,
    /// It ran out of time.
    Timeout,
    /// The platform reported a failure (`Sandbox.*` errors).
    Failure,
    /// The environment shut down before it ended.
    Incomplete,
}

impl InvocationStatus {
    /// Every outcome word.
    pub const ALL: [InvocationStatus; 5] = [
        Self::Success,
        Self::Error,
        Self::Timeout,
        Self::Failure,
        Self::Incomplete,
    ];

    /// The word as emitted.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::Failure => "failure",
            Self::Incomplete => "incomplete",
        }
    }
}

/// Why an invocation failed: its `error.type` and, unless an HTTP status says it all, the
/// exception it raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    error_type: String,
    exception: Option<Exception>,
}

/// An error's message and stack, from the most specific source available.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Exception {
    message: String,
    stack: Vec<String>,
}

impl Failure {
    fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            exception: Some(Exception {
                message: message.into(),
                stack: Vec::new(),
            }),
        }
    }

    /// An HTTP server answer of 5xx: an error per the OpenTelemetry HTTP conventions, even when
    /// the function itself returned normally. `error.type` is the status code; nothing was raised,
    /// so there is no exception, and no status description (the conventions leave it unset when
    /// `http.response.status_code` tells the reason).
    pub(super) fn http_server_error(code: i64) -> Option<Self> {
        (code >= 500).then(|| Self {
            error_type: code.to_string(),
            exception: None,
        })
    }

    /// Records the failure on the span: `error.type` in `attributes`, the `exception` event at `at`
    /// in `events`, and the ERROR status it returns. Messages and stack traces can quote secrets:
    /// they are redacted like bodies and logs.
    pub(super) fn record(
        &self,
        at: SystemTime,
        rules: &RedactionRules,
        attributes: &mut Vec<KeyValue>,
        events: &mut Vec<Event>,
    ) -> Status {
        attributes.push(KeyValue::new(semconv::ERROR_TYPE, self.error_type.clone()));
        let Some(exception) = &self.exception else {
            return Status::error("");
        };
        let (message, _) = redact::redact_text(&exception.message, rules);
        let message = message.into_owned();
        let stack = stack_text(&exception.stack);
        let (stack, _) = redact::redact_text(&stack, rules);
        let mut attrs = vec![
            KeyValue::new(semconv::EXCEPTION_TYPE, self.error_type.clone()),
            KeyValue::new(semconv::EXCEPTION_MESSAGE, message.clone()),
        ];
        if !stack.is_empty() {
            attrs.push(KeyValue::new(
                semconv::EXCEPTION_STACKTRACE,
                stack.into_owned(),
            ));
        }
        events.push(Event::new(semconv::EXCEPTION_EVENT, at, attrs, 0));
        if message.is_empty() {
            Status::error(self.error_type.clone())
        } else {
            Status::error(format!("{}: {message}", self.error_type))
        }
    }
}

/// A stack's lines as one text. Python's runtime client ends each line with a newline, Node.js's
/// does not: lines are joined so that each ends with exactly one.
fn stack_text(lines: &[String]) -> String {
    lines.iter().fold(String::new(), |mut text, line| {
        text.push_str(line);
        if !line.ends_with('\n') {
            text.push('\n');
        }
        text
    })
}

/// Parses an error body (possibly cut short): `{"errorType","errorMessage"}` with the stack as
/// `stackTrace` (the Python runtime client, the Runtime API's documentation) or `trace` (the
/// Node.js runtime client).
fn error_body(head: &[u8]) -> Option<Failure> {
    let json: Json = serde_json::from_slice(head).ok()?;
    let error_type = json.get("errorType")?.as_str()?.to_owned();
    let message = json
        .get("errorMessage")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned();
    let stack = ["stackTrace", "trace"]
        .into_iter()
        .find_map(|key| json.get(key).and_then(Json::as_array))
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| l.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Some(Failure {
        error_type,
        exception: Some(Exception { message, stack }),
    })
}

/// The invocation's outcome word alone (the metrics count invocations by it).
pub fn invocation_status(inv: &InvocationSummary) -> InvocationStatus {
    outcome(inv).0
}

/// The invocation's outcome: its word and, if it failed, why.
pub(super) fn outcome(inv: &InvocationSummary) -> (InvocationStatus, Option<Failure>) {
    let done = inv.runtime_done.as_ref().map(|d| &d.body);
    let platform_error = done.and_then(|d| d.error_type.clone());
    if let Some(failure) = inv
        .result
        .as_ref()
        .and_then(|result| result_failure(result, platform_error.as_deref()))
    {
        return (InvocationStatus::Error, Some(failure));
    }
    match (done.and_then(|d| d.status.as_ref()), inv.reason) {
        (Some(PlatformStatus::Success), _) => (InvocationStatus::Success, None),
        (Some(status), _) => platform_failure(status, platform_error),
        (None, CloseReason::DeadlinePassed) => (
            InvocationStatus::Timeout,
            Some(Failure::new(
                "Sandbox.Timeout",
                "the deadline passed without a response",
            )),
        ),
        (None, _) if cut_off_by_the_deadline(inv) => (
            InvocationStatus::Timeout,
            Some(Failure::new(
                "Sandbox.Timeout",
                "the deadline passed before the response was complete",
            )),
        ),
        (None, CloseReason::Incomplete) if inv.result.is_none() => (
            InvocationStatus::Incomplete,
            Some(Failure::new(
                "LambdaLens.Incomplete",
                "the environment shut down before the invocation ended",
            )),
        ),
        (None, _) => (InvocationStatus::Success, None),
    }
}

/// Whether the result's body stopped short of its end at or after the deadline: a response the
/// timeout cut off (a stream stalls; the platform ends the runtime), when the platform did not say.
fn cut_off_by_the_deadline(inv: &InvocationSummary) -> bool {
    let deadline = inv
        .event
        .as_ref()
        .and_then(|e| e.deadline_ms)
        .map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
    let body = inv.result.as_ref().map(|r| &r.body);
    match (deadline, body) {
        (Some(deadline), Some(body)) if !body.complete => {
            body.ended_at.is_some_and(|ended| ended >= deadline)
        }
        _ => false,
    }
}

/// Why a result that passed the proxy is a failure, if it is: an `/error` body, an upstream
/// rejection or a stream's error trailers.
fn result_failure(result: &ResultRecord, platform_error: Option<&str>) -> Option<Failure> {
    if matches!(result.kind, ResultKind::Error | ResultKind::InitError) {
        return Some(error_body(&result.body.head).unwrap_or_else(|| {
            let error_type = result
                .error_type
                .as_deref()
                .or(platform_error)
                .unwrap_or("Unhandled");
            Failure::new(error_type, "")
        }));
    }
    if let Some(error) = &result.upstream_error {
        return Some(Failure::new(
            "LambdaLens.UpstreamUnavailable",
            error.clone(),
        ));
    }
    if let Some(status) = result.upstream_status.filter(|s| *s >= 400) {
        return Some(
            error_body(&result.upstream_body.head)
                .unwrap_or_else(|| Failure::new(format!("Runtime.HTTP{status}"), "")),
        );
    }
    match (result.streaming, &result.error_type) {
        (true, Some(error_type)) => Some(stream_error(
            error_type,
            result.error_body_trailer.as_deref().unwrap_or_default(),
        )),
        _ => None,
    }
}

/// A stream's error trailers: `Lambda-Runtime-Function-Error-Type`, and
/// `Lambda-Runtime-Function-Error-Body`, the base64 of an error body. The body's type, message and
/// stack are the failure's; a trailer that is not an error body is shown as the message (decoded
/// when it is base64).
fn stream_error(error_type: &str, body_trailer: &str) -> Failure {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(body_trailer.trim());
    match decoded {
        Ok(bytes) => error_body(&bytes).unwrap_or_else(|| {
            Failure::new(error_type, String::from_utf8_lossy(&bytes).into_owned())
        }),
        Err(_) => Failure::new(error_type, body_trailer),
    }
}

/// The platform's `runtimeDone` status other than success, as an outcome.
fn platform_failure(
    status: &PlatformStatus,
    platform_error: Option<String>,
) -> (InvocationStatus, Option<Failure>) {
    let word = match status {
        PlatformStatus::Timeout => InvocationStatus::Timeout,
        PlatformStatus::Failure => InvocationStatus::Failure,
        _ => InvocationStatus::Error,
    };
    let error_type = platform_error.unwrap_or_else(|| format!("Platform.{}", status.as_str()));
    let message = match status {
        PlatformStatus::Timeout => "the function timed out".to_owned(),
        _ => format!("the platform reported {}", status.as_str()),
    };
    (word, Some(Failure::new(error_type, message)))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::record::BodyCapture;

    fn response(upstream_status: u16, upstream_body: &'static [u8]) -> ResultRecord {
        ResultRecord {
            kind: ResultKind::Response,
            request_id: None,
            started_at: UNIX_EPOCH,
            streaming: false,
            content_type: None,
            error_type: None,
            error_body_trailer: None,
            xray_error_cause: None,
            body: BodyCapture::default(),
            upstream_status: Some(upstream_status),
            upstream_error: None,
            upstream_body: BodyCapture {
                head: Bytes::from_static(upstream_body),
                ..BodyCapture::default()
            },
        }
    }

    #[test]
    fn upstream_rejections_are_failures() {
        assert_eq!(result_failure(&response(202, b""), None), None);
        let rejected = result_failure(&response(413, b"too big"), None).expect("failure");
        assert_eq!(rejected.error_type, "Runtime.HTTP413");
        let described = result_failure(
            &response(
                400,
                br#"{"errorType":"InvalidRequestContent","errorMessage":"no"}"#,
            ),
            None,
        )
        .expect("failure");
        assert_eq!(
            (described.error_type.as_str(), message(&described)),
            ("InvalidRequestContent", "no")
        );
        let mut unavailable = response(202, b"");
        unavailable.upstream_error = Some("connection refused".into());
        let failure = result_failure(&unavailable, None).expect("failure");
        assert_eq!(failure.error_type, "LambdaLens.UpstreamUnavailable");
    }

    #[test]
    fn platform_statuses_map_to_outcome_words() {
        let word = |status| platform_failure(&status, None).0.as_str();
        assert_eq!(word(PlatformStatus::Timeout), "timeout");
        assert_eq!(word(PlatformStatus::Failure), "failure");
        assert_eq!(word(PlatformStatus::Error), "error");
        assert_eq!(word(PlatformStatus::Other("odd".into())), "error");
        let (_, failure) = platform_failure(&PlatformStatus::Failure, None);
        assert_eq!(failure.expect("failure").error_type, "Platform.failure");
    }

    #[test]
    fn only_5xx_answers_fail_an_http_span_and_raise_nothing() {
        assert_eq!(Failure::http_server_error(404), None);
        let failure = Failure::http_server_error(503).expect("failure");
        assert_eq!(failure.error_type, "503");
        assert_eq!(failure.exception, None);
        let (mut attributes, mut events) = (Vec::new(), Vec::new());
        let status = failure.record(
            UNIX_EPOCH,
            &RedactionRules::default(),
            &mut attributes,
            &mut events,
        );
        assert_eq!(status, Status::error(""));
        assert_eq!(attributes, [KeyValue::new("error.type", "503")]);
        assert!(events.is_empty());
    }

    #[test]
    fn stacks_are_read_from_stack_trace_or_trace() {
        let python = error_body(
            br#"{"errorMessage":"m","errorType":"ValueError","stackTrace":["  File a\n","  File b\n"]}"#,
        )
        .expect("failure");
        assert_eq!(stack(&python), "  File a\n  File b\n");
        let node = error_body(
            br#"{"errorType":"TypeError","errorMessage":"m","trace":["TypeError: m","    at f (/x.mjs:1:2)"]}"#,
        )
        .expect("failure");
        assert_eq!(node.error_type, "TypeError");
        assert_eq!(message(&node), "m");
        assert_eq!(stack(&node), "TypeError: m\n    at f (/x.mjs:1:2)\n");
    }

    #[test]
    fn a_stream_error_body_trailer_is_decoded_as_an_error_body() {
        use base64::Engine as _;
        let body = br#"{"errorType":"RangeError","errorMessage":"the stream broke","trace":["RangeError: the stream broke","    at h (/i.mjs:3:9)"]}"#;
        let trailer = base64::engine::general_purpose::STANDARD.encode(body);
        let failure = stream_error("RangeError", &trailer);
        assert_eq!(failure.error_type, "RangeError");
        assert_eq!(message(&failure), "the stream broke");
        assert_eq!(
            stack(&failure),
            "RangeError: the stream broke\n    at h (/i.mjs:3:9)\n"
        );
        // Not an error body: the decoded text, or the trailer itself when it is not base64.
        assert_eq!(message(&stream_error("E", "Ym9vbQ==")), "boom");
        assert_eq!(message(&stream_error("E", "not base64!")), "not base64!");
        assert_eq!(stream_error("E", "").error_type, "E");
    }

    fn message(failure: &Failure) -> &str {
        failure
            .exception
            .as_ref()
            .map_or("", |e| e.message.as_str())
    }

    fn stack(failure: &Failure) -> String {
        failure
            .exception
            .as_ref()
            .map_or_else(String::new, |e| stack_text(&e.stack))
    }
}
