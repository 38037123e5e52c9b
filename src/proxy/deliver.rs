//! Handing an event to the runtime: relayed as it arrives from upstream, or from memory when it was
//! kept or read whole for an event transform. Its invocation record goes to the owner task once the
//! event went out; an event the runtime was gone for goes back to the broker.

use std::time::SystemTime;

use bytes::Bytes;
use tokio::io::AsyncRead;

use super::broker::Fetched;
use super::head::{Framing, ResponseHead};
use super::lock;
use super::names;
use super::records::{deferred_record, invocation_record, EventRecord};
use super::reply::Reply;
use super::session::{KeepAlive, Session};
use super::transformable::transformable;
use super::wire::{InBuf, Message, RelayError};
use crate::capture::Tap;
use crate::event::{ParsedBody, RecordScan};
use crate::record::{BodyCapture, InvocationRecord, SpanIdentity};
use crate::transform::{Direction, TransformContext};

/// An event on its way to the runtime: its head and where its body comes from.
pub(super) struct Event<'a, R> {
    /// The upstream's answer head, written to the runtime as received.
    pub(super) head: &'a ResponseHead,
    /// How the body is delimited (a new length when a transform changed it).
    pub(super) framing: Framing,
    /// Where the body is read from.
    pub(super) src: &'a mut R,
    /// The bytes already read from `src` and not yet relayed.
    pub(super) buf: &'a mut InBuf,
    /// The new `Content-Length` when a transform changed the body.
    pub(super) content_length: Option<usize>,
    /// The runtime asked for its connection to close after this answer: the head says so.
    pub(super) close: bool,
}

impl Session {
    /// Hands an event read whole (kept, or read for transforms) to the runtime, in the shape of
    /// `reply`; if the runtime is gone before any byte went out, the event goes back to the front of
    /// the queue.
    pub(super) async fn hand_over(&mut self, fetched: Fetched, reply: Reply) -> KeepAlive {
        let original = match fetched.head.framing(false) {
            Ok(framing) => framing,
            Err(e) => {
                let error = e.to_string();
                return self.bad_gateway(&error, reply).await;
            }
        };
        let mut body = fetched.body.clone();
        let mut content_length = None;
        let shared = &self.shared;
        let transforms = &shared.transforms;
        let mut record = deferred_record(&fetched.head, fetched.received_at);
        if let EventRecord::Deferred(received_at) = record {
            if transforms.any(Direction::Event) && transformable(&fetched.head.fields, original) {
                // The transform needs the identity before the event goes out: the parent is read
                // from the event as the runtime would have been handed it untransformed, cut as a
                // capture would cut it. Span building parses what is captured (the transformed
                // body) itself, so this parse is not handed on.
                let kept = body.len().min(shared.capture_bytes);
                let event = ParsedBody::new(&body[..kept], kept == body.len());
                let repeated = &mut self.repeated;
                let built = invocation_record(&fetched.head, received_at, repeated, |header| {
                    SpanIdentity::chosen(&shared.trace_rules, &event, header, received_at)
                });
                if let Some(built) = built {
                    let ctx = TransformContext {
                        span: built.span.clone(),
                        sampled: built.span.choice.sampled(&shared.trace_rules.sampler),
                        received_at,
                        now: SystemTime::now(),
                    };
                    if let Some(changed) = transforms.apply(Direction::Event, &body, &ctx) {
                        body = Bytes::from(changed);
                        content_length = Some(body.len());
                    }
                    record = EventRecord::Built(Box::new(built));
                }
            }
        }
        let framing = content_length.map_or(original, |n| Framing::Length(n as u64));
        let event = Event {
            head: &fetched.head,
            framing,
            src: &mut &body[..],
            buf: &mut InBuf::default(),
            content_length,
            close: reply.close,
        };
        match self.relay_event(event, record).await {
            Ok(keep_alive) => keep_alive,
            Err(RelayError::NotSent(_)) => {
                lock(&self.shared.broker).offer(Ok(fetched), true);
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "a kept event could not be relayed whole");
                false
            }
        }
    }

    /// Relays an event to the runtime and sends its record; yields whether the runtime's connection
    /// can carry another request. Fails with [`RelayError::NotSent`] (and sends no record) when the
    /// runtime was gone before any byte went out.
    pub(super) async fn relay_event<R: AsyncRead + Unpin>(
        &mut self,
        event: Event<'_, R>,
        record: EventRecord,
    ) -> Result<KeepAlive, RelayError> {
        let mut out = self.head_buffer();
        let shared = &self.shared;
        // The runtime's connection closes after an event when it asked, or when the event's
        // framing is faulty; the head says so (an event read until close ends the connection anyway).
        let close = event.close || event.head.framing_is_faulty();
        let length = event.content_length.map(|n| n.to_string());
        let mut overrides: [(&str, &[u8]); 2] = [("", b""); 2];
        let mut count = 0;
        if let Some(n) = &length {
            overrides[count] = (names::CONTENT_LENGTH, n.as_bytes());
            count += 1;
        }
        if close {
            overrides[count] = (names::CONNECTION, b"close");
            count += 1;
        }
        event.head.write_downstream(&mut out, &overrides[..count]);
        // A batch's records are read for its span's links: without spans nothing reads them.
        let mut tap = match record {
            EventRecord::NotAnEvent => Tap::new(0),
            EventRecord::Built(_) | EventRecord::Deferred(_) if shared.span_links => {
                Tap::watching_batches(shared.capture_bytes)
            }
            EventRecord::Built(_) | EventRecord::Deferred(_) => Tap::new(shared.capture_bytes),
        };
        // A runtime already seen gone gets nothing: the kernel would accept the write anyway.
        let result = if self.rt.has_left() {
            Err(RelayError::NotSent(
                std::io::ErrorKind::ConnectionAborted.into(),
            ))
        } else {
            let message = Message {
                framing: event.framing,
                head: &out,
                tap: &mut tap,
            };
            self.rt.receive(event.src, event.buf, message).await
        };
        self.keep_head_buffer(out);
        if !matches!(result, Err(RelayError::NotSent(_))) {
            let finished = |mut tap: Tap| {
                let records = tap.take_records();
                (records, tap.finish(result.is_ok()).0)
            };
            let record = match record {
                EventRecord::Built(mut record) => {
                    (record.records, record.event) = finished(tap);
                    Some(*record)
                }
                EventRecord::Deferred(received_at) => {
                    let (records, capture) = finished(tap);
                    self.event_record(event.head, received_at, records, capture)
                }
                EventRecord::NotAnEvent => None,
            };
            if let Some(record) = record {
                let shared = &self.shared;
                self.delivered = Some(record.request_id.clone());
                // Kept once the parent is known: the runtime answers only after it had the
                // whole event, and the answer's transforms stamp this identity.
                if shared.transforms.any(Direction::Response) {
                    shared.transform_spans.remember(
                        record.request_id.clone(),
                        record.span.clone(),
                        record.received_at,
                    );
                }
                shared.records.send(record.into());
            }
        }
        result.map(|()| !close && event.framing != Framing::UntilClose)
    }

    /// The record of an event that went out with `capture` seen of its body (and `records` of a
    /// batch's): its parent is chosen from the captured head when anything reads it, and the
    /// parse is handed on so that span building does not parse the head again.
    fn event_record(
        &mut self,
        head: &ResponseHead,
        received_at: SystemTime,
        records: Option<RecordScan>,
        capture: BodyCapture,
    ) -> Option<InvocationRecord> {
        let shared = &self.shared;
        let parent_needed = shared.exporting || shared.transforms.any(Direction::Response);
        let mut event_parse = None;
        let mut record = invocation_record(head, received_at, &mut self.repeated, |header| {
            if !parent_needed {
                return SpanIdentity::from_lambda_header(header, received_at);
            }
            let parsed = capture.parsed();
            let span = SpanIdentity::chosen(&shared.trace_rules, &parsed, header, received_at);
            event_parse = Some(parsed.into_parse());
            span
        })?;
        record.records = records;
        record.event = capture;
        record.event_parse = event_parse;
        Some(record)
    }
}
