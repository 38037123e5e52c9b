//! The runtime's connection: noticing that the runtime left (without losing a request it sent ahead),
//! also while its call waits for the upstream's answer and while that answer is relayed to it, and
//! closing a connection lambda-lens gives up on without losing the answer just written.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::time::Instant;

use super::head::ResponseHead;
use super::wire::{read_answer_head, relay_body, Conn, InBuf, Message, RelayError};
use super::MAX_HEAD_BYTES;

/// Why a call has no answer head to relay.
#[derive(Debug)]
pub(super) enum NoAnswer {
    /// The upstream failed, or what it sent is no answer.
    Upstream(String),
    /// The runtime went away and the answer did not come within [`LINGER_MAX_TIME`] after.
    RuntimeGone,
}

/// A runtime connection given up on is drained for at most this long and this many bytes before it
/// closes (see [`Conn::linger_close`]); Lambda's largest payload fits.
pub(super) const LINGER_MAX_TIME: Duration = Duration::from_secs(2);
/// See [`LINGER_MAX_TIME`].
pub(super) const LINGER_MAX_BYTES: usize = 8 * 1024 * 1024;

/// Completes when the peer behind `io` closes its connection (or it fails). Bytes it sends meanwhile
/// (a pipelined request) are kept in `buf` for the next exchange.
async fn closed<R: AsyncRead + Unpin>(io: &mut R, buf: &mut InBuf) {
    loop {
        if buf.bytes.len() > MAX_HEAD_BYTES {
            // Too much sent ahead to keep watching; the exchange goes on regardless.
            std::future::pending::<()>().await;
        }
        match buf.fill_spare(io).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Completes [`LINGER_MAX_TIME`] after the runtime behind `io` closed its side of the connection or
/// it failed. `ended_at` keeps when that was first seen, so the time is one bound across the
/// stages of a call, not one per stage; the session clears it at each call it reads.
///
/// A runtime that only half-closed after its request (it still reads) gets an answer that comes
/// within that time whole, as through a plain relay; one that closed for good makes the next write
/// to it fail at once; and the upstream's answer to a result is still read in that time, so the
/// call's outcome is known. So an upstream that stalls keeps neither connection open for longer
/// than that after the runtime has gone.
pub(super) async fn gone<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut InBuf,
    ended_at: &mut Option<Instant>,
) {
    let ended = match *ended_at {
        Some(ended) => ended,
        None => {
            closed(io, buf).await;
            *ended_at.insert(Instant::now())
        }
    };
    tokio::time::sleep_until(ended + LINGER_MAX_TIME).await;
}

impl Conn {
    /// Completes when the runtime closes its connection (or it fails). Bytes it sends meanwhile (a
    /// pipelined request) are kept for the next exchange.
    pub(super) async fn left(&mut self) {
        closed(&mut self.stream, &mut self.buf).await;
    }

    /// Reads the upstream's answer head from `up`, relaying interim answers to the runtime when
    /// `interim` (not to an HTTP/1.0 runtime), while watching the runtime: a call whose answer
    /// never comes must not hold both connections open after the runtime has gone ([`gone`]).
    pub(super) async fn answer_head(
        &mut self,
        up: &mut Conn,
        interim: bool,
    ) -> Result<ResponseHead, NoAnswer> {
        let (mut reader, mut writer) = self.stream.split();
        let interim = interim.then_some(&mut writer);
        tokio::select! {
            biased;
            head = read_answer_head(&mut up.stream, &mut up.buf, interim) => {
                head.map_err(NoAnswer::Upstream)
            }
            () = gone(&mut reader, &mut self.buf, &mut self.ended_at) => Err(NoAnswer::RuntimeGone),
        }
    }

    /// Relays an answer from `src` (its unread bytes in `src_buf`) to the runtime, watching the
    /// runtime meanwhile: an answer that stalls mid-body must not hold both connections open after
    /// the runtime has gone ([`RelayError::ReceiverLeft`]). The runtime is only looked at while the
    /// relay waits for `src`, at no cost until its socket turns readable.
    pub(super) async fn receive<R: AsyncRead + Unpin>(
        &mut self,
        src: &mut R,
        src_buf: &mut InBuf,
        message: Message<'_>,
    ) -> Result<(), RelayError> {
        let (mut reader, mut writer) = self.stream.split();
        tokio::select! {
            biased;
            relayed = relay_body(src, src_buf, &mut writer, message) => relayed,
            () = gone(&mut reader, &mut self.buf, &mut self.ended_at) => {
                Err(RelayError::ReceiverLeft)
            }
        }
    }

    /// Whether the runtime has closed its connection, as far as is known without waiting. Bytes it
    /// sent meanwhile are kept for the next exchange. Costs no system call unless the socket was
    /// reported readable.
    pub(super) fn has_left(&mut self) -> bool {
        loop {
            if self.buf.bytes.len() > MAX_HEAD_BYTES {
                return false;
            }
            // Room to read into: an empty buffer would read as the end of the stream.
            self.buf.keep_room(4096);
            match self.stream.try_read_buf(&mut self.buf.bytes) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(_) => return true,
            }
        }
    }

    /// Closes a connection after its last answer without losing that answer: a close with unread
    /// input sends a reset, which can discard the answer at the peer. So the write side is shut
    /// first and input read and dropped until the peer closes too, for at most `max_time` and
    /// `max_bytes`.
    pub(crate) async fn linger_close(&mut self, max_time: Duration, max_bytes: usize) {
        let _ = self.stream.shutdown().await;
        let mut drained = 0;
        let drain = async {
            loop {
                self.buf.bytes.clear();
                match self.buf.fill(&mut self.stream, 0).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        drained += n;
                        if drained > max_bytes {
                            return;
                        }
                    }
                }
            }
        };
        let _ = tokio::time::timeout(max_time, drain).await;
    }
}
