//! Record building: what the owner task is told about an event handed to the runtime and about a
//! result the runtime sent, read from the heads (the bodies are filled in by taps as they pass).

use std::borrow::Cow;
use std::time::SystemTime;

use super::head::{RequestHead, ResponseHead};
use super::names;
use super::repeated::Repeated;
use super::tags::Tag;
use crate::capture::Tap;
use crate::record::{
    InvocationRecord, PendingRecord, RequestId, ResultKind, ResultRecord, SpanIdentity,
};
use crate::redact::cut_at_char_boundary;

/// The headers an event's record is read from.
const EVENT_HEADERS: [Tag; 8] = [
    Tag::of(names::REQUEST_ID),
    Tag::of(names::TRACE_ID),
    Tag::of(names::DEADLINE_MS),
    Tag::of(names::INVOKED_ARN),
    Tag::of(names::CLIENT_CONTEXT),
    Tag::of(names::COGNITO_IDENTITY),
    Tag::of(names::TENANT_ID),
    Tag::of(names::CONTENT_TYPE),
];

/// The headers a result's record is read from.
const RESULT_HEADERS: [Tag; 4] = [
    Tag::of(names::RESPONSE_MODE),
    Tag::of(names::CONTENT_TYPE),
    Tag::of(names::ERROR_TYPE),
    Tag::of(names::XRAY_ERROR_CAUSE),
];

/// When an event's record is built.
pub(super) enum EventRecord {
    /// Before the event went out, its parent chosen for an event transform (boxed: the other
    /// variants are the common ones).
    Built(Box<InvocationRecord>),
    /// From the head once the event went out, off the runtime's path; the event's head arrived
    /// from upstream at this time.
    Deferred(SystemTime),
    /// Nothing is recorded: not an event (not 200, or no request id), or nothing reads records.
    NotAnEvent,
}

/// How the record of the event whose head is `head`, received at `received_at`, is built when
/// nothing needs it before the event goes out.
pub(super) fn deferred_record(head: &ResponseHead, received_at: SystemTime) -> EventRecord {
    if head.status() != 200 {
        return EventRecord::NotAnEvent;
    }
    if head.fields.get(names::REQUEST_ID).is_none() {
        tracing::warn!("upstream /next answered without a request id; not recorded");
        return EventRecord::NotAnEvent;
    }
    EventRecord::Deferred(received_at)
}

/// The record of an event handed to the runtime, with the span identity `span` makes of the
/// event's X-Ray header; none for an answer that is not an event (see [`deferred_record`]). The
/// values the connection's records repeat are shared with `repeated`.
pub(super) fn invocation_record(
    head: &ResponseHead,
    received_at: SystemTime,
    repeated: &mut Repeated,
    span: impl FnOnce(Option<&str>) -> SpanIdentity,
) -> Option<InvocationRecord> {
    let [request_id, trace_header, deadline_ms, invoked_function_arn, client_context, cognito_identity, tenant_id, content_type] =
        head.fields.first_of(EVENT_HEADERS);
    let request_id = request_id.filter(|_| head.status() == 200)?;
    let trace_header = trace_header.map(text);
    let span = span(trace_header.as_deref());
    Some(InvocationRecord {
        request_id: RequestId::new(as_text(request_id)),
        deadline_ms: deadline_ms
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse().ok()),
        invoked_function_arn: invoked_function_arn.map(|v| repeated.invoked_arn.share(v)),
        trace_header,
        client_context: client_context.map(text),
        cognito_identity: cognito_identity.map(text),
        tenant_id: tenant_id.map(text),
        content_type: content_type.map(|v| repeated.event_content_type.share(v)),
        upstream_status: head.status(),
        received_at,
        event: Default::default(),
        records: None,
        span,
        event_parse: None,
    })
}

/// A header value as text (invalid UTF-8 replaced).
fn text(value: &[u8]) -> String {
    as_text(value).into_owned()
}

/// A header value as text, borrowed when it is valid UTF-8 (invalid UTF-8 replaced).
pub(super) fn as_text(value: &[u8]) -> Cow<'_, str> {
    // Checking valid text (the usual case) whole is cheaper than taking it apart as the
    // replacement does.
    match std::str::from_utf8(value) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value),
    }
}

/// The record of a result call `kind` for `request_id`, as far as its head tells; the X-Ray cause is
/// kept to `capture_bytes`. The values the connection's records repeat are shared with `repeated`.
pub(super) fn result_record(
    req: &RequestHead,
    kind: ResultKind,
    request_id: Option<RequestId>,
    capture_bytes: usize,
    repeated: &mut Repeated,
) -> ResultRecord {
    let [response_mode, content_type, error_type, xray_error_cause] =
        req.fields.first_of(RESULT_HEADERS);
    ResultRecord {
        kind,
        request_id,
        started_at: SystemTime::now(),
        streaming: response_mode.is_some_and(|m| m.trim_ascii().eq_ignore_ascii_case(b"streaming")),
        content_type: content_type.map(|v| repeated.result_content_type.share(v)),
        error_type: error_type.map(text),
        error_body_trailer: None,
        // Up to 1 MiB in a header: only the part kept is copied.
        xray_error_cause: xray_error_cause.map(|cause| {
            let head = &cause[..cause.len().min(capture_bytes)];
            cut_at_char_boundary(text(head), capture_bytes).0
        }),
        body: Default::default(),
        upstream_status: None,
        upstream_error: None,
        upstream_body: Default::default(),
    }
}

/// Puts what a tap saw of a result's body (and its trailers) into the record.
pub(super) fn finish_request_capture(
    record: Option<&mut PendingRecord<ResultRecord>>,
    tap: Tap,
    complete: bool,
) {
    let Some(record) = record else {
        return;
    };
    let (capture, trailers) = tap.finish(complete);
    record.body = capture;
    if let Some(trailers) = trailers {
        let text = |name: &str| {
            trailers
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        if let Some(error_type) = text(names::ERROR_TYPE) {
            record.error_type = Some(error_type);
        }
        record.error_body_trailer = text(names::ERROR_BODY);
    }
}
