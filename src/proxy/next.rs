//! `/next`: the runtime's long poll for its next event. A kept event is handed over at once; a runtime
//! waits for an orphaned upstream call when there is one; otherwise the runtime's own upstream call
//! is made, watching the runtime meanwhile, so that an event whose runtime left is kept (see
//! [`super::orphan`]) rather than lost.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

use super::broker::{Claim, FetchResult, Fetched, MAX_KEPT_EVENT_BYTES};
use super::deliver::Event;
use super::head::{Framing, RequestHead, ResponseHead};
use super::orphan::{Unread, UnreadBody};
use super::records::{deferred_record, EventRecord};
use super::reply::Reply;
use super::session::{KeepAlive, Session};
use super::transformable::transformable;
use super::upstream::write_request_head;
use super::wire::{relay_body, Bounded, Conn, Message, RelayError};
use super::{lock, Shared};
use crate::capture::Tap;
use crate::transform::Direction;

impl Session {
    /// Answers a runtime's `/next`.
    pub(super) async fn next(&mut self, req: &RequestHead) -> KeepAlive {
        let reply = Reply::to(req);
        let claim = lock(&self.shared.broker).claim();
        match claim {
            Claim::Ready(fetched) => self.hand_over(fetched, reply).await,
            Claim::Wait(rx) => {
                // The wait may be long: what this /next ended is told now.
                self.send_ended();
                let mut waiter = Waiter {
                    rx: Some(rx),
                    shared: Arc::clone(&self.shared),
                };
                // A runtime seen leaving wins over an event arriving at the same moment: the event
                // is then kept (by the waiter's drop) instead of written into a closed connection.
                let outcome = tokio::select! {
                    biased;
                    () = self.rt.left() => None,
                    result = waiter.recv() => Some(result),
                };
                match outcome {
                    Some(Some(Ok(fetched))) => self.hand_over(fetched, reply).await,
                    Some(Some(Err(error))) => self.bad_gateway(&error, reply).await,
                    Some(None) => {
                        let error = "the upstream /next call was abandoned";
                        self.bad_gateway(error, reply).await
                    }
                    // Dropping the waiter hands an event that arrived meanwhile to the next /next.
                    None => false,
                }
            }
            Claim::Fetch => self.fetch(req, reply).await,
        }
    }

    /// Calls upstream `/next` on this connection's upstream connection and hands the event on,
    /// answering in the shape of `reply`.
    async fn fetch(&mut self, req: &RequestHead, reply: Reply) -> KeepAlive {
        let mut out = self.head_buffer();
        write_request_head(&mut out, &self.shared.upstream, req, None);
        let called = self.call_upstream(req, &out, reply).await;
        self.keep_head_buffer(out);
        let (conn, head) = match called {
            Ok(answered) => answered,
            Err(keep_alive) => return keep_alive,
        };
        let received_at = SystemTime::now();
        let framing = match head.framing(false) {
            Ok(framing) => framing,
            Err(e) => {
                let error = e.to_string();
                return self.bad_gateway(&error, reply).await;
            }
        };
        let transform = self.shared.transforms.any(Direction::Event)
            && head.status() == 200
            && transformable(&head.fields, framing);
        let event = UnreadBody {
            head,
            received_at,
            framing,
            got: Bounded::new(MAX_KEPT_EVENT_BYTES),
        };
        if transform {
            self.read_then_hand_over(conn, event, reply).await
        } else {
            self.stream_event(conn, event, reply).await
        }
    }

    /// Sends the runtime's `/next` upstream (`out`, its head for the upstream) and waits for the
    /// answer's head, watching the runtime
    /// meanwhile. A kept connection the upstream closed is replaced once. Fails with whether the
    /// runtime's connection goes on when the exchange ended without an event: lambda-lens answered
    /// with a 502, or the runtime left and its call was orphaned.
    async fn call_upstream(
        &mut self,
        req: &RequestHead,
        out: &[u8],
        reply: Reply,
    ) -> Result<(Conn, ResponseHead), KeepAlive> {
        let mut current = self.up.take();
        let mut retried = false;
        loop {
            let (mut conn, reused) = match self.shared.pool.get(current.take()).await {
                Ok(got) => got,
                Err(e) => {
                    let error = e.to_string();
                    return Err(self.bad_gateway(&error, reply).await);
                }
            };
            // The upstream may close after answering an HTTP/1.0 request (see `relay`).
            conn.single_use = req.is_http_1_0();
            let received_before = conn.buf.received();
            let sent = conn.stream.write_all(out).await.map_err(|e| e.to_string());
            // The call is on its way (or failed): the answer may take the whole invocation.
            self.send_ended();
            let waited = match sent {
                // A runtime seen leaving wins over an event arriving at the same moment: the event
                // is then kept instead of written into a closed connection.
                Ok(()) => tokio::select! {
                    biased;
                    () = self.rt.left() => None,
                    head = conn.final_head() => Some(head),
                },
                Err(e) => Some(Err(e)),
            };
            match waited {
                None => {
                    let orphan = self.shared.orphan(conn, Unread::Answer);
                    let shared = Arc::clone(&self.shared);
                    tokio::spawn(async move { orphan.finish(&shared).await });
                    return Err(false);
                }
                Some(Ok(head)) => return Ok((conn, head)),
                // A kept connection the upstream closed meanwhile: one more try on a new one (no
                // answer byte arrived, so no event can have been taken).
                Some(Err(_)) if reused && !retried && conn.buf.received() == received_before => {
                    tracing::debug!("a kept upstream connection was closed; reconnecting");
                    retried = true;
                    self.shared.pool.discard_idle();
                }
                Some(Err(error)) => return Err(self.bad_gateway(&error, reply).await),
            }
        }
    }

    /// Reads an event whole for the event transforms (a stated length: `transformable`), watching
    /// the runtime, then hands it over. If the runtime leaves meanwhile, the event is kept, and a
    /// `/next` meanwhile waits for it.
    async fn read_then_hand_over(
        &mut self,
        mut conn: Conn,
        mut event: UnreadBody,
        reply: Reply,
    ) -> KeepAlive {
        let reusable = event.leaves_reusable();
        let message = Message {
            framing: event.framing,
            head: &[],
            tap: &mut Tap::new(0),
        };
        let read = tokio::select! {
            biased;
            () = self.rt.left() => None,
            read = relay_body(&mut conn.stream, &mut conn.buf, &mut event.got, message) => Some(read),
        };
        match read {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                let error = e.to_string();
                return self.bad_gateway(&error, reply).await;
            }
            None => {
                // Writes to memory never wait, so the read stopped between reads: what is in
                // `event.got` and `conn.buf` is all that arrived.
                let Framing::Length(total) = event.framing else {
                    unreachable!("transformable bodies have a stated length")
                };
                event.framing = Framing::Length(total - event.got.bytes.len() as u64);
                let orphan = self.shared.orphan(conn, Unread::Body(event));
                orphan.finish(&self.shared).await;
                return false;
            }
        }
        if reusable {
            self.up = Some(conn);
        }
        let fetched = Fetched {
            head: event.head,
            body: Bytes::from(event.got.bytes),
            received_at: event.received_at,
        };
        self.hand_over(fetched, reply).await
    }

    /// Streams an event to the runtime as it arrives.
    async fn stream_event(&mut self, mut conn: Conn, event: UnreadBody, reply: Reply) -> KeepAlive {
        // Without a reader of records (nor a response transform stamping the event's span), the
        // event passes unrecorded.
        let recorded =
            self.shared.records.is_read() || self.shared.transforms.any(Direction::Response);
        let record = if recorded {
            deferred_record(&event.head, event.received_at)
        } else {
            EventRecord::NotAnEvent
        };
        let Conn { stream, buf, .. } = &mut conn;
        let relayed = Event {
            head: &event.head,
            framing: event.framing,
            src: stream,
            buf,
            content_length: None,
            close: reply.close,
        };
        match self.relay_event(relayed, record).await {
            Ok(keep_alive) => {
                if event.leaves_reusable() {
                    self.up = Some(conn);
                }
                keep_alive
            }
            Err(RelayError::NotSent(_)) => {
                // The runtime left as its event arrived: keep the event for the next /next, which
                // waits for it rather than calling upstream while it is being read.
                let orphan = self.shared.orphan(conn, Unread::Body(event));
                orphan.finish(&self.shared).await;
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "an event could not be relayed whole");
                false
            }
        }
    }
}

/// Holds a runtime's place in the `/next` queue; if the runtime goes away after its event arrived but
/// before it was handed on, the event goes back to the front of the queue.
struct Waiter {
    rx: Option<oneshot::Receiver<FetchResult>>,
    shared: Arc<Shared>,
}

impl Waiter {
    async fn recv(&mut self) -> Option<FetchResult> {
        let rx = self.rx.as_mut()?;
        let result = rx.await.ok();
        self.rx = None;
        result
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(Ok(fetched)) = rx.try_recv() {
                tracing::info!("runtime left /next as its event arrived; event handed on");
                lock(&self.shared.broker).offer(Ok(fetched), true);
            }
        }
    }
}
