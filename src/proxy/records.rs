//! Record building: what the owner task is told about an event handed to the runtime and about a
//! result the runtime sent, read from the heads (the bodies are filled in by taps as they pass).

use std::time::SystemTime;

use super::head::{RequestHead, ResponseHead};
use super::names;
use crate::capture::Tap;
use crate::record::{
    InvocationRecord, PendingRecord, RequestId, ResultKind, ResultRecord, SpanIdentity,
};
use crate::redact::cut_at_char_boundary;

/// The record of an event about to be handed to the runtime; none for an answer that is not an
/// event (not 200, or no request id).
pub(super) fn invocation_record(
    head: &ResponseHead,
    received_at: SystemTime,
) -> Option<InvocationRecord> {
    let f = &head.fields;
    let Some(request_id) = f.string(names::REQUEST_ID).filter(|_| head.status() == 200) else {
        if head.status() == 200 {
            tracing::warn!("upstream /next answered without a request id; not recorded");
        }
        return None;
    };
    let trace_header = f.string(names::TRACE_ID);
    // The span id is fixed now; the parent is chosen once the event's head is known
    // (`SpanIdentity::choose`).
    let span = SpanIdentity::from_lambda_header(trace_header.as_deref(), received_at);
    Some(InvocationRecord {
        request_id: RequestId::new(request_id),
        deadline_ms: f
            .string(names::DEADLINE_MS)
            .and_then(|v| v.trim().parse().ok()),
        invoked_function_arn: f.string(names::INVOKED_ARN),
        trace_header,
        client_context: f.string(names::CLIENT_CONTEXT),
        cognito_identity: f.string(names::COGNITO_IDENTITY),
        tenant_id: f.string(names::TENANT_ID),
        content_type: f.string(names::CONTENT_TYPE),
        upstream_status: head.status(),
        received_at,
        event: Default::default(),
        records: None,
        span,
        event_parse: None,
    })
}

/// The record of a result call `kind` for `request_id`, as far as its head tells; the X-Ray cause is
/// kept to `capture_bytes`.
pub(super) fn result_record(
    req: &RequestHead,
    kind: ResultKind,
    request_id: Option<RequestId>,
    capture_bytes: usize,
) -> ResultRecord {
    let f = &req.fields;
    ResultRecord {
        kind,
        request_id,
        started_at: SystemTime::now(),
        streaming: f
            .get(names::RESPONSE_MODE)
            .is_some_and(|m| m.trim_ascii().eq_ignore_ascii_case(b"streaming")),
        content_type: f.string(names::CONTENT_TYPE),
        error_type: f.string(names::ERROR_TYPE),
        error_body_trailer: None,
        // Up to 1 MiB in a header: only the part kept is copied.
        xray_error_cause: f.get(names::XRAY_ERROR_CAUSE).map(|cause| {
            let head = &cause[..cause.len().min(capture_bytes)];
            let text = String::from_utf8_lossy(head).into_owned();
            cut_at_char_boundary(text, capture_bytes).0
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
