//! The proxy's observations: one record per invocation event handed to the runtime, one per result
//! (`/response`, `/error`, `/init/error`) the runtime sends, and one when a runtime whose result was
//! accepted asks for its next event — the moment the platform considers it done — delivered over a
//! bounded channel to the single task that owns all per-invocation state.
//!
//! A record is filled in while its bodies pass and sent when dropped (`PendingRecord`), so it is sent
//! exactly once even when a runtime disconnects mid-stream.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use opentelemetry::trace::SpanId;
use serde::{Serialize, Serializer};
use tokio::sync::mpsc;

use crate::event::{BodyParse, EventCarrier, ParsedBody, RecordScan};
use crate::trace_context::{new_span_id, ParentChoice, TraceRules, Traceparent};

/// How many observations may wait for the owner task before new ones are dropped. The proxy never
/// waits for room: observing must not slow the function down.
pub const OBSERVATION_QUEUE_CAPACITY: usize = 1024;

/// A Lambda request id (`Lambda-Runtime-Aws-Request-Id`). Shared, not copied: every record, map
/// entry and summary of an invocation holds its id, so a clone only counts a reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// Wraps a request id as received (copied once, into the shared allocation).
    pub fn new(id: impl AsRef<str>) -> Self {
        Self(Arc::from(id.as_ref()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id's shared allocation (an attribute value that needs no copy).
    pub fn shared(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for RequestId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A header value as text, shared: the records of successive invocations that carry the same
/// value (the invoked ARN, a content type) hold one allocation instead of a copy each.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SharedText(Arc<str>);

impl Deref for SharedText {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SharedText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SharedText {
    fn from(text: &str) -> Self {
        Self(Arc::from(text))
    }
}

impl From<String> for SharedText {
    fn from(text: String) -> Self {
        Self(Arc::from(text))
    }
}

impl Serialize for SharedText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// What was seen of one body as it streamed through the proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BodyCapture {
    /// Bytes that passed through.
    pub size: u64,
    /// The first bytes of the body, at most the capture limit.
    #[serde(serialize_with = "lossy_text")]
    pub head: Bytes,
    /// The body ended normally (false: the peer went away or the stream failed).
    pub complete: bool,
    /// When the first byte passed.
    #[serde(serialize_with = "epoch_ms_opt")]
    pub first_byte_at: Option<SystemTime>,
    /// When the body ended (or was abandoned).
    #[serde(serialize_with = "epoch_ms_opt")]
    pub ended_at: Option<SystemTime>,
}

impl BodyCapture {
    /// True when `head` holds less than the whole body.
    pub fn truncated(&self) -> bool {
        (self.head.len() as u64) < self.size
    }

    /// The captured head, to be parsed: whole when the body ended normally and all of it was kept.
    pub fn parsed(&self) -> ParsedBody<'_> {
        ParsedBody::new(&self.head, self.is_whole())
    }

    /// The captured head with what `parse` already holds of it (see [`BodyCapture::parsed`]).
    pub fn resumed<'a>(&'a self, parse: &'a BodyParse) -> ParsedBody<'a> {
        ParsedBody::resume(&self.head, self.is_whole(), parse)
    }

    fn is_whole(&self) -> bool {
        self.complete && !self.truncated()
    }
}

/// An invocation event the runtime received from `/next`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvocationRecord {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: RequestId,
    /// `Lambda-Runtime-Deadline-Ms` (epoch ms).
    pub deadline_ms: Option<u64>,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_function_arn: Option<SharedText>,
    /// `Lambda-Runtime-Trace-Id` (the X-Ray header).
    pub trace_header: Option<String>,
    /// `Lambda-Runtime-Client-Context`.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`.
    pub cognito_identity: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
    /// `Content-Type` of the event.
    pub content_type: Option<SharedText>,
    /// Status of the upstream `/next` answer.
    pub upstream_status: u16,
    /// When the event's headers arrived from upstream (for an event kept for a runtime that reconnected,
    /// this is earlier than the hand-over; `event.first_byte_at` is when the runtime got its first byte).
    #[serde(serialize_with = "epoch_ms")]
    pub received_at: SystemTime,
    /// The event body (its `ended_at` is when the runtime had all of it).
    pub event: BodyCapture,
    /// What the records of a batch event held, read as the whole body passed; `None` for other
    /// events.
    #[serde(skip)]
    pub records: Option<RecordScan>,
    /// The invocation span's identity, chosen as the event passed so that transforms can hand it to
    /// the function (`traceparent`) and the span is built with the same ids.
    #[serde(skip)]
    pub span: SpanIdentity,
    /// What the proxy parsed of the captured event head to choose the parent, handed on so that
    /// span building does not parse the head again; `None` when the head it parsed is not the one
    /// captured (an event transform changed the body). Held in place: the record is boxed itself.
    #[serde(skip)]
    pub event_parse: Option<BodyParse>,
}

/// Trace context and span id of an invocation span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanIdentity {
    /// The trace, the remote parent, its `tracestate` and the context linked instead (held in
    /// place: the record that carries it is boxed, so queues move a pointer either way).
    pub choice: ParentChoice,
    /// The invocation span's id.
    pub span_id: SpanId,
}

impl SpanIdentity {
    /// The identity of an invocation known only by its Lambda X-Ray header `trace_header`: its
    /// context is the parent, as for a runtime that bypasses the proxy.
    pub fn from_lambda_header(trace_header: Option<&str>, now: SystemTime) -> Self {
        Self {
            choice: ParentChoice::lambda(trace_header, now),
            span_id: new_span_id(),
        }
    }

    /// The identity of an invocation whose event is `event` and whose Lambda X-Ray header is
    /// `trace_header`, its parent chosen under `rules`.
    pub fn chosen(
        rules: &TraceRules,
        event: &ParsedBody<'_>,
        trace_header: Option<&str>,
        now: SystemTime,
    ) -> Self {
        Self {
            choice: ParentChoice::choose(
                &rules.propagators,
                &EventCarrier::of(event),
                trace_header,
                rules.target,
                now,
            ),
            span_id: new_span_id(),
        }
    }

    /// The W3C `traceparent` naming the invocation span as parent, stating the invocation's
    /// sampling decision `sampled`.
    pub fn traceparent(&self, sampled: bool) -> String {
        Traceparent {
            trace_id: self.choice.trace.trace_id,
            span_id: self.span_id,
            sampled,
        }
        .to_string()
    }
}

/// Which Runtime API call carried a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    /// `POST /runtime/invocation/{id}/response`.
    Response,
    /// `POST /runtime/invocation/{id}/error`.
    Error,
    /// `POST /runtime/init/error`.
    InitError,
}

/// A response or error the runtime sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultRecord {
    /// Which call.
    pub kind: ResultKind,
    /// The request id in the path (none for `/init/error`).
    pub request_id: Option<RequestId>,
    /// When the runtime's request headers arrived.
    #[serde(serialize_with = "epoch_ms")]
    pub started_at: SystemTime,
    /// `Lambda-Runtime-Function-Response-Mode: streaming` was set.
    pub streaming: bool,
    /// `Content-Type` of the body.
    pub content_type: Option<SharedText>,
    /// `Lambda-Runtime-Function-Error-Type`, from the header or, for streams, the trailer.
    pub error_type: Option<String>,
    /// `Lambda-Runtime-Function-Error-Body` trailer (base64, as sent).
    pub error_body_trailer: Option<String>,
    /// `Lambda-Runtime-Function-XRay-Error-Cause`, cut to the capture limit.
    pub xray_error_cause: Option<String>,
    /// The body the runtime sent.
    pub body: BodyCapture,
    /// Status of the upstream answer; `None` when upstream could not be reached.
    pub upstream_status: Option<u16>,
    /// Why upstream could not be reached.
    pub upstream_error: Option<String>,
    /// The first bytes of the upstream answer (e.g. its error JSON).
    pub upstream_body: BodyCapture,
}

/// The runtime that handled an invocation asked for its next event: the invocation's work is over,
/// as the platform counts it (`runtimeDone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextRecord {
    /// The invocation whose accepted result preceded this `/next`.
    pub request_id: RequestId,
    /// When the `/next` request's head arrived.
    #[serde(serialize_with = "epoch_ms")]
    pub at: SystemTime,
}

/// One observation made by the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum ProxyRecord {
    /// An event handed to the runtime (boxed, as the result: records move through the queue and
    /// several frames of the owner, and a pointer moves cheaper than a record).
    Invocation(Box<InvocationRecord>),
    /// A result the runtime sent.
    Result(Box<ResultRecord>),
    /// The runtime asked for its next event after an accepted result.
    Next(NextRecord),
}

/// Sending side of the observation queue; never blocks, counts what it had to drop.
#[derive(Debug, Clone)]
pub struct RecordSender {
    /// `None` when nothing reads records ([`RecordSender::unread`]).
    tx: Option<mpsc::Sender<ProxyRecord>>,
    dropped: Arc<AtomicU64>,
}

impl RecordSender {
    /// A bounded queue of [`OBSERVATION_QUEUE_CAPACITY`] records.
    pub fn channel() -> (Self, mpsc::Receiver<ProxyRecord>) {
        Self::with_capacity(OBSERVATION_QUEUE_CAPACITY)
    }

    /// A bounded queue of `capacity` records.
    pub fn with_capacity(capacity: usize) -> (Self, mpsc::Receiver<ProxyRecord>) {
        let (tx, rx) = mpsc::channel(capacity);
        let sender = Self {
            tx: Some(tx),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        (sender, rx)
    }

    /// A queue nobody reads (export disabled and records not logged): the sender discards every
    /// record without a word, and the receiver is closed from the start.
    pub fn unread() -> (Self, mpsc::Receiver<ProxyRecord>) {
        let (_, rx) = mpsc::channel(1);
        let sender = Self {
            tx: None,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        (sender, rx)
    }

    /// Whether anything reads the records: when not, the proxy need not build them.
    pub fn is_read(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues a record, or drops it when the owner task is behind or gone; discards it silently
    /// when nothing reads records.
    pub fn send(&self, record: ProxyRecord) {
        let Some(tx) = &self.tx else {
            return;
        };
        if tx.try_send(record).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // Log the first drop and then every 1000th, so a stalled owner cannot flood the logs.
            if dropped == 1 || dropped % 1000 == 0 {
                tracing::warn!(dropped, "observation queue full or closed; records dropped");
            }
        }
    }
}

/// A record being filled in while its bodies pass; sent once, when dropped, so that a record is
/// neither lost nor sent twice when the runtime's connection ends mid-body or its task is dropped.
#[derive(Debug)]
pub(crate) struct PendingRecord<T: Into<ProxyRecord>> {
    record: Option<T>,
    sender: RecordSender,
}

impl<T: Into<ProxyRecord>> PendingRecord<T> {
    pub(crate) fn new(record: T, sender: RecordSender) -> Self {
        Self {
            record: Some(record),
            sender,
        }
    }
}

impl<T: Into<ProxyRecord>> std::ops::Deref for PendingRecord<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.record
            .as_ref()
            .expect("a pending record is only taken on drop")
    }
}

impl<T: Into<ProxyRecord>> std::ops::DerefMut for PendingRecord<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.record
            .as_mut()
            .expect("a pending record is only taken on drop")
    }
}

impl<T: Into<ProxyRecord>> Drop for PendingRecord<T> {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            self.sender.send(record.into());
        }
    }
}

impl From<InvocationRecord> for ProxyRecord {
    fn from(record: InvocationRecord) -> Self {
        Self::Invocation(Box::new(record))
    }
}

impl From<ResultRecord> for ProxyRecord {
    fn from(record: ResultRecord) -> Self {
        Self::Result(Box::new(record))
    }
}

impl From<NextRecord> for ProxyRecord {
    fn from(record: NextRecord) -> Self {
        Self::Next(record)
    }
}

impl ResultRecord {
    /// The runtime sent the whole result and the Runtime API accepted it: the invocation's outcome
    /// is known without the platform's word.
    pub fn accepted(&self) -> bool {
        self.body.complete
            && self
                .upstream_status
                .is_some_and(|s| (200..300).contains(&s))
    }

    /// When the result was complete (or abandoned).
    pub fn ended_at(&self) -> SystemTime {
        self.body.ended_at.unwrap_or(self.started_at)
    }
}

fn lossy_text<S: Serializer>(bytes: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(bytes))
}

/// Milliseconds since the Unix epoch, with microsecond precision.
fn epoch_millis(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as f64 / 1000.0)
        .unwrap_or(0.0)
}

fn epoch_ms<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(epoch_millis(*t))
}

fn epoch_ms_opt<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_f64(epoch_millis(*t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(id: &str) -> ProxyRecord {
        ProxyRecord::from(InvocationRecord {
            request_id: RequestId::new(id),
            deadline_ms: Some(1),
            invoked_function_arn: None,
            trace_header: None,
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
            content_type: None,
            upstream_status: 200,
            received_at: UNIX_EPOCH,
            event: BodyCapture::default(),
            span: SpanIdentity::from_lambda_header(None, UNIX_EPOCH),
            event_parse: None,
            records: None,
        })
    }

    #[test]
    fn pending_record_is_sent_once_when_dropped() {
        let (sender, mut rx) = RecordSender::with_capacity(4);
        let ProxyRecord::Invocation(record) = invocation("a") else {
            unreachable!("invocation() builds an invocation record")
        };
        let mut pending = PendingRecord::new(*record, sender);
        pending.event.size = 7;
        assert!(rx.try_recv().is_err(), "not sent while pending");
        drop(pending);
        match rx.try_recv().expect("sent on drop") {
            ProxyRecord::Invocation(i) => assert_eq!(i.event.size, 7),
            other => panic!("unexpected {other:?}"),
        }
        assert!(rx.try_recv().is_err(), "sent exactly once");
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (sender, _rx) = RecordSender::with_capacity(1);
        sender.send(invocation("a"));
        sender.send(invocation("b"));
        sender.send(invocation("c"));
        assert_eq!(sender.dropped.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn an_unread_queue_discards_without_counting() {
        let (sender, mut rx) = RecordSender::unread();
        assert!(!sender.is_read());
        sender.send(invocation("a"));
        drop(PendingRecord::new(invocation("b"), sender.clone()));
        assert_eq!(sender.dropped.load(Ordering::Relaxed), 0);
        assert!(matches!(
            rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        assert!(RecordSender::channel().0.is_read());
    }

    #[test]
    fn records_serialize_as_tagged_json_with_text_heads() {
        let mut rec = invocation("r1");
        if let ProxyRecord::Invocation(i) = &mut rec {
            i.event.head = Bytes::from_static(b"{\"k\":1}");
            i.event.size = 7;
        }
        let json = serde_json::to_value(&rec).expect("records serialize");
        assert_eq!(json["record"], "invocation");
        assert_eq!(json["request_id"], "r1");
        assert_eq!(json["event"]["head"], "{\"k\":1}");
        assert_eq!(json["received_at"], 0.0);
    }
}
