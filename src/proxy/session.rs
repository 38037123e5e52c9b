//! One runtime connection, served by one task: its requests read one after the other, each routed
//! and answered on the upstream connection the session keeps, as a plain TCP relay would.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::TcpStream;

use super::awaiting_next::ConnectionId;
use super::head::{self, Framing, RequestHead};
use super::repeated::Repeated;
use super::route::{route, Route};
use super::runtime_conn::{LINGER_MAX_BYTES, LINGER_MAX_TIME};
use super::wire::{read_head, Conn, ReadHeadError};
use super::{lock, Shared, MAX_HEAD_BYTES};
use crate::record::{NextRecord, RequestId};

/// Whether a runtime connection can carry another request after an exchange.
pub(super) type KeepAlive = bool;

/// Largest allocation for outgoing heads a session keeps between exchanges; a larger head (a long
/// X-Ray error cause) gets its own.
const MAX_KEPT_HEAD_BUFFER: usize = 16 * 1024;

/// A runtime connection and the upstream connection it keeps between exchanges.
pub(super) struct Session {
    /// What all runtime connections share.
    pub(super) shared: Arc<Shared>,
    /// The runtime's connection.
    pub(super) rt: Conn,
    /// The upstream connection kept between exchanges; empty when it cannot be used again.
    pub(super) up: Option<Conn>,
    /// Which runtime connection this is.
    pub(super) id: ConnectionId,
    /// The invocations the runtime's current `/next` ended, told to the owner task once the call
    /// is on its way upstream (waking the owner's thread must not delay it), or when the exchange
    /// ends first.
    ended: Vec<NextRecord>,
    /// The request id of the last event delivered on this connection: its result's path names
    /// it again, and then shares it rather than allocating its own.
    pub(super) delivered: Option<RequestId>,
    /// The allocation outgoing heads are written into, kept between uses (see
    /// [`Session::head_buffer`]).
    head_out: Vec<u8>,
    /// What this connection's records repeat from one invocation to the next.
    pub(super) repeated: Repeated,
}

impl Session {
    /// Serves one runtime connection until it ends.
    pub(super) async fn serve(shared: Arc<Shared>, stream: TcpStream) {
        let id = ConnectionId(shared.connections.fetch_add(1, Ordering::Relaxed));
        let mut session = Self {
            shared,
            rt: Conn::new(stream),
            up: None,
            id,
            ended: Vec::new(),
            delivered: None,
            head_out: Vec::new(),
            repeated: Repeated::default(),
        };
        // Whether the connection ends by lambda-lens's choice rather than the runtime's.
        let given_up = loop {
            let read = read_head(
                &mut session.rt.stream,
                &mut session.rt.buf,
                MAX_HEAD_BYTES,
                head::parse_request,
            )
            .await;
            let req = match read {
                Ok(Some(req)) => {
                    // Each call a runtime sent before closing its side gets its own linger.
                    session.rt.ended_at = None;
                    req
                }
                Ok(None) => break false,
                Err(e) => {
                    session.reject(&e.into(), false).await;
                    break true;
                }
            };
            if !session.exchange(req).await {
                break true;
            }
        };
        if let Some(conn) = session.up.take() {
            session.shared.pool.put(conn);
        }
        if given_up {
            session
                .rt
                .linger_close(LINGER_MAX_TIME, LINGER_MAX_BYTES)
                .await;
        }
    }

    /// One request and its answer.
    async fn exchange(&mut self, req: RequestHead) -> KeepAlive {
        let framing = match req.check_host().and_then(|()| req.framing()) {
            Ok(framing) => framing,
            Err(e) => {
                self.reject(&ReadHeadError::Head(e).into(), req.is_head())
                    .await;
                return false;
            }
        };
        let keep = !req.closes();
        match route(req.method(), req.path(), self.delivered.as_ref()) {
            Route::Next if matches!(framing, Framing::Empty | Framing::Length(0)) => {
                self.runtime_done();
                let keep_alive = self.next(&req).await;
                self.send_ended();
                keep_alive && keep
            }
            Route::Result(kind, request_id) => {
                self.result(&req, framing, kind, request_id).await && keep
            }
            _ => self.relay(&req, framing, None, None).await && keep,
        }
    }

    /// An empty buffer to write an outgoing head into: the session's allocation, handed back with
    /// [`Session::keep_head_buffer`] once the head went out.
    pub(super) fn head_buffer(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.head_out);
        out.clear();
        out
    }

    /// Keeps the allocation of a head buffer for the next head, unless it grew large.
    pub(super) fn keep_head_buffer(&mut self, out: Vec<u8>) {
        if out.capacity() <= MAX_KEPT_HEAD_BUFFER {
            self.head_out = out;
        }
    }

    /// Notes which invocations this runtime finished, now that it asked for its next event.
    fn runtime_done(&mut self) {
        let ended = &mut self.ended;
        lock(&self.shared.awaiting_next).next(self.id, SystemTime::now, |record| {
            ended.push(record);
        });
    }

    /// Tells the owner task which invocations the runtime's `/next` ended, if not done yet.
    pub(super) fn send_ended(&mut self) {
        for record in self.ended.drain(..) {
            self.shared.records.send(record.into());
        }
    }
}

impl Drop for Session {
    /// A session dropped mid-`/next` (its task ended) still tells what that `/next` ended.
    fn drop(&mut self) {
        self.send_ended();
    }
}
