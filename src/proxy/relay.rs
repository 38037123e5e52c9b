//! Relaying a call and its answer: a result (its body from the runtime, or the body a transform
//! made) or any other call goes upstream, and the upstream's answer back, interim answers included,
//! both as they arrive. With `Expect: 100-continue` the body waits for the upstream's interim answer.

use bytes::Bytes;

use super::head::{Framing, RequestHead, ResponseHead};
use super::names;
use super::records::finish_request_capture;
use super::reply::{Reply, Unreadable};
use super::runtime_conn::{gone, NoAnswer};
use super::session::{KeepAlive, Session};
use super::upstream::write_request_head;
use super::wire::{self, read_answer_head, relay_body, Conn, Message, RelayError};
use crate::capture::Tap;
use crate::record::{PendingRecord, ResultRecord};

/// Bytes kept of the upstream's answer to a result (`{"status":"OK"}` or an error JSON).
const UPSTREAM_ANSWER_CAPTURE_BYTES: usize = 1024;

impl Session {
    /// Relays a request (its body from the runtime, or `replacement` when a transform changed it) and
    /// the upstream's answer, filling in `record` when the call is a result.
    pub(super) async fn relay(
        &mut self,
        req: &RequestHead,
        framing: Framing,
        mut record: Option<&mut PendingRecord<ResultRecord>>,
        replacement: Option<Bytes>,
    ) -> KeepAlive {
        // Whether the runtime's request has been read whole (so its connection stays usable).
        let mut request_read = framing == Framing::Empty || replacement.is_some();
        // The runtime's connection closes after this exchange whatever happens (it asked, or RFC 9112
        // §6.1 requires it of a request framed twice); the answer says so.
        let must_close = req.closes();
        let mut conn = match self.shared.pool.get(self.up.take()).await {
            Ok((conn, _)) => conn,
            Err(e) => {
                let error = e.to_string();
                if let Some(record) = record.as_deref_mut() {
                    record.upstream_error = Some(error.clone());
                }
                let reply = Reply {
                    head_request: req.is_head(),
                    close: !request_read || must_close,
                };
                return self.bad_gateway(&error, reply).await;
            }
        };
        // The upstream may close after answering an HTTP/1.0 request (it went without keep-alive):
        // a request sent on that connection meanwhile would be lost with it.
        conn.single_use = req.is_http_1_0();
        // The request's head, then the answer's: one buffer, kept for the next exchange when this
        // one ends as expected.
        let mut out = self.head_buffer();
        write_request_head(
            &mut out,
            &self.shared.upstream,
            req,
            replacement.as_ref().map(Bytes::len),
        );
        let observed = record.is_some() && replacement.is_none();
        let mut tap = Tap::new(if observed {
            self.shared.capture_bytes
        } else {
            0
        });

        // Send the request; with `Expect: 100-continue` the body only comes after the upstream's
        // interim answer, so body and answer are relayed together.
        let mut upstream_failed = None;
        let final_head = if let Some(body) = &replacement {
            if let Err(e) = wire::write_two(&mut conn.stream, &out, body).await {
                upstream_failed = Some(e.to_string());
            }
            None
        } else if req.expects_continue() && framing != Framing::Empty {
            let message = Message {
                framing,
                head: &out,
                tap: &mut tap,
            };
            let (head, sent) = send_after_continue(&mut self.rt, &mut conn, message).await;
            match sent {
                Some(Ok(())) => request_read = true,
                Some(Err(e)) if !e.is_write() => {
                    finish_request_capture(record.as_deref_mut(), tap, false);
                    self.reject(&Unreadable::Body(e), req.is_head()).await;
                    return false;
                }
                Some(Err(e)) => upstream_failed = Some(e.to_string()),
                // The upstream answered before the body was sent; neither connection is reusable.
                None => {}
            }
            head
        } else {
            let message = Message {
                framing,
                head: &out,
                tap: &mut tap,
            };
            let rt = &mut self.rt;
            match relay_body(&mut rt.stream, &mut rt.buf, &mut conn.stream, message).await {
                Ok(()) => request_read = true,
                Err(e) if !e.is_write() => {
                    // The runtime left mid-body, or its chunked framing is invalid: the upstream
                    // holds a partial request, and the connection to it closes.
                    finish_request_capture(record.as_deref_mut(), tap, false);
                    self.reject(&Unreadable::Body(e), req.is_head()).await;
                    return false;
                }
                Err(e) => upstream_failed = Some(e.to_string()),
            }
            None
        };
        if observed {
            finish_request_capture(
                record.as_deref_mut(),
                std::mem::replace(&mut tap, Tap::new(0)),
                request_read,
            );
        }

        // The answer (an upstream that failed mid-request may still have answered, e.g. 413).
        let head = match final_head {
            Some(head) => head,
            // An HTTP/1.0 runtime knows no interim answers.
            None => self.rt.answer_head(&mut conn, !req.is_http_1_0()).await,
        };
        let reply = Reply {
            head_request: req.is_head(),
            close: !request_read || must_close,
        };
        let head = match head {
            Ok(head) => head,
            Err(NoAnswer::RuntimeGone) => {
                // Nobody to answer, and the upstream is not at fault: no 502, no upstream error
                // (the call's outcome stays unknown), and both connections close.
                tracing::debug!(
                    "the runtime left and no answer came within the linger time; both connections close"
                );
                return false;
            }
            Err(NoAnswer::Upstream(e)) => {
                let error = upstream_failed.unwrap_or(e);
                if let Some(record) = record.as_deref_mut() {
                    record.upstream_error = Some(error.clone());
                }
                return self.bad_gateway(&error, reply).await;
            }
        };
        let resp_framing = match head.framing(req.is_head()) {
            Ok(framing) => framing,
            Err(e) => {
                let error = e.to_string();
                let reply = Reply {
                    close: true,
                    ..reply
                };
                self.bad_gateway(&error, reply).await;
                return false;
            }
        };
        // The runtime's connection closes after this answer when it asked, when its request was not
        // read whole, or when the answer's framing is faulty: say so.
        let close = !request_read || must_close || head.framing_is_faulty();
        out.clear();
        if close {
            head.write_downstream(&mut out, &[(names::CONNECTION, b"close")]);
        } else {
            head.write_downstream(&mut out, &[]);
        }
        // The upstream answers results alike (`{"status":"OK"}`): the last answer is shared.
        let mut answer_tap = if record.is_some() {
            let last = self.repeated.upstream_answer.clone();
            Tap::expecting(UPSTREAM_ANSWER_CAPTURE_BYTES, last)
        } else {
            Tap::new(0)
        };
        let message = Message {
            framing: resp_framing,
            head: &out,
            tap: &mut answer_tap,
        };
        let Conn { stream, buf, .. } = &mut conn;
        let relayed = self.rt.receive(stream, buf, message).await;
        if let Some(record) = record {
            record.upstream_status = Some(head.status());
            record.upstream_body = answer_tap.finish(relayed.is_ok()).0;
            let answer = &record.upstream_body.head;
            if relayed.is_ok() && !answer.is_empty() && *answer != self.repeated.upstream_answer {
                // A compact copy: the tap's may have room to spare, and this one stays with the
                // connection (within `UPSTREAM_ANSWER_CAPTURE_BYTES`).
                self.repeated.upstream_answer = Bytes::copy_from_slice(answer);
            }
        }
        if let Err(e) = &relayed {
            tracing::debug!(error = %e, "an answer could not be relayed whole");
        }
        self.keep_head_buffer(out);
        let whole = relayed.is_ok() && resp_framing != Framing::UntilClose;
        if whole && request_read && upstream_failed.is_none() && !head.closes() {
            self.up = Some(conn);
        }
        whole && !close
    }
}

/// Sends a request with `Expect: 100-continue` from `rt` to `up` while reading the upstream's answer
/// (relaying its interim answers): the body goes out once the upstream asks for it. Yields the final
/// answer head, unless the runtime failed mid-body (the upstream then waits for the rest, so no
/// answer is awaited), and how sending the body ended, unless the answer came first.
async fn send_after_continue(
    rt: &mut Conn,
    up: &mut Conn,
    message: Message<'_>,
) -> (
    Option<Result<ResponseHead, NoAnswer>>,
    Option<Result<(), RelayError>>,
) {
    let (mut rt_r, mut rt_w) = rt.stream.split();
    let (mut up_r, mut up_w) = up.stream.split();
    let answer = read_answer_head(&mut up_r, &mut up.buf, Some(&mut rt_w));
    tokio::pin!(answer);
    let sent = {
        let body = relay_body(&mut rt_r, &mut rt.buf, &mut up_w, message);
        tokio::pin!(body);
        tokio::select! {
            result = &mut body => result,
            head = &mut answer => return (Some(head.map_err(NoAnswer::Upstream)), None),
        }
    };
    // A runtime that failed mid-body leaves the upstream waiting for the rest: stop here rather
    // than wait for an answer.
    if matches!(&sent, Err(e) if !e.is_write()) {
        return (None, Some(sent));
    }
    // The body is sent: the answer is awaited while the runtime is watched, as in `answer_head`.
    let head = tokio::select! {
        biased;
        head = &mut answer => head.map_err(NoAnswer::Upstream),
        () = gone(&mut rt_r, &mut rt.buf, &mut rt.ended_at) => Err(NoAnswer::RuntimeGone),
    };
    (Some(head), Some(sent))
}
