//! The HTTP listener the platform delivers telemetry batches to: an HTTP/1 server on the proxy's
//! own wire code. Connections are kept alive (pipelined requests are answered in order); only POST
//! is accepted (405 otherwise); a body comes by `Content-Length` or chunked, at most
//! [`MAX_BATCH_BYTES`] (larger: 413, after reading it to its end); a head that is not acceptable
//! HTTP/1 gets 400 (431 beyond the proxy's head limit, `MAX_HEAD_BYTES`) and the connection closes, as it does after a
//! request saying `Connection: close`. Every answer is `content-length: 0`.
//!
//! The extension is subscribed to its own logs (`extension` type), so nothing here logs per batch:
//! each line would come back in the next batch and feed itself. Problems are counted instead (see
//! [`dropped_events`], [`oversize_batches`], [`skipped_elements`]) and announced once, on their first
//! occurrence in the process.

use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::events::parse_batch;
use super::queue::BatchSender;
use crate::net;
use crate::proxy::head;
use crate::proxy::whole_body::{read_whole, WholeBody};
use crate::proxy::wire::{read_head, Conn, ReadHeadError, RelayError};
use crate::proxy::MAX_HEAD_BYTES;

/// The interim answer to a request that waits for it before sending its body.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Largest batch read. The platform sends at most `2 * maxBytes + metadata` (about 0.5 MiB with the
/// subscription's 256 KiB); anything larger is answered 413 and counted.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop neither spins nor floods
/// the extension's own log stream, which this listener receives.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

static DROPPED_EVENTS: AtomicU64 = AtomicU64::new(0);
static OVERSIZE_BATCHES: AtomicU64 = AtomicU64::new(0);
static SKIPPED_ELEMENTS: AtomicU64 = AtomicU64::new(0);

/// Events this process dropped because the queue to the owner task was full (or closed).
pub fn dropped_events() -> u64 {
    DROPPED_EVENTS.load(Ordering::Relaxed)
}

/// Deliveries this process refused with 413 because their body exceeded [`MAX_BATCH_BYTES`].
pub fn oversize_batches() -> u64 {
    OVERSIZE_BATCHES.load(Ordering::Relaxed)
}

/// Batch elements this process could not understand (and bodies that were not JSON arrays).
pub fn skipped_elements() -> u64 {
    SKIPPED_ELEMENTS.load(Ordering::Relaxed)
}

/// Adds `n` to `counter`; the first time anything is counted, logs `what` at WARN.
fn count(counter: &AtomicU64, n: u64, what: &str) {
    if counter.fetch_add(n, Ordering::Relaxed) == 0 {
        tracing::warn!("{what}; further occurrences are only counted");
    }
}

/// Binds the listener on 0.0.0.0:`port` (the platform posts to sandbox.localdomain, which must
/// not be assumed to be loopback); port 0 = ephemeral; a busy port falls back to an ephemeral one
/// with one WARN line.
pub async fn bind_listener(port: u16) -> io::Result<TcpListener> {
    // The subscription names the port actually bound, so any free port works.
    net::bind_with_fallback(Ipv4Addr::UNSPECIFIED, port, "telemetry").await
}

/// Serves deliveries forever, each connection on a task of its own: answers 200 right away (after
/// reading the body, bounded at [`MAX_BATCH_BYTES`]: larger → 413 and counted), parses, sends the
/// delivery's events on `sink` as one message (drops counted in [`dropped_events`]). Never logs per
/// batch at info (the extension is subscribed to its own logs: logging per batch would feed
/// itself); one WARN on the first drop.
///
/// A batch is parsed and queued before its answer is written: parsing takes well under a
/// millisecond for a 256 KiB batch, and doing it in line keeps events in delivery order, which a
/// task per batch would not.
pub async fn serve(listener: TcpListener, sink: BatchSender) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "telemetry listener accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        // An answer is one small write; on a kept-alive connection it must not wait for an ACK.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not disable Nagle on a telemetry connection");
        }
        tokio::spawn(serve_connection(Conn::new(stream), sink.clone()));
    }
}

/// Serves one connection's requests in order (pipelined ones too) until it closes, asks to close,
/// or sends something that is not a readable request.
async fn serve_connection(mut conn: Conn, sink: BatchSender) {
    let mut out = Vec::new();
    while let Some(Answer { status, close }) = answer_next(&mut conn, &sink).await {
        out.clear();
        write_answer(&mut out, status, close);
        if conn.stream.write_all(&out).await.is_err() || close {
            return;
        }
    }
}

/// What one request is answered.
struct Answer {
    status: StatusCode,
    /// Whether the connection closes after the answer (it then says so).
    close: bool,
}

impl Answer {
    /// A refusal after which the connection's bytes cannot be trusted to frame another request.
    fn refusal(status: StatusCode) -> Option<Self> {
        Some(Self {
            status,
            close: true,
        })
    }
}

/// Reads the next request on `conn` and handles it; `None` when the connection ended (between
/// requests or in the middle of one: the platform retries, nobody would read an answer).
async fn answer_next(conn: &mut Conn, sink: &BatchSender) -> Option<Answer> {
    let head = match read_head(
        &mut conn.stream,
        &mut conn.buf,
        MAX_HEAD_BYTES,
        head::parse_request,
    )
    .await
    {
        Ok(Some(head)) => head,
        Ok(None) | Err(ReadHeadError::Io(_) | ReadHeadError::Truncated) => return None,
        Err(ReadHeadError::TooLarge(_)) => {
            return Answer::refusal(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        }
        Err(ReadHeadError::Head(_)) => return Answer::refusal(StatusCode::BAD_REQUEST),
    };
    let Ok(framing) = head.framing() else {
        return Answer::refusal(StatusCode::BAD_REQUEST);
    };
    if head.expects_continue() && conn.stream.write_all(CONTINUE).await.is_err() {
        return None;
    }
    let body = match read_whole(&mut conn.stream, &mut conn.buf, framing, MAX_BATCH_BYTES).await {
        Ok(body) => body,
        Err(RelayError::Chunked(_)) => return Answer::refusal(StatusCode::BAD_REQUEST),
        Err(_) => return None,
    };
    let status = if head.method() == "POST" {
        deliver(body, sink)
    } else {
        StatusCode::METHOD_NOT_ALLOWED
    };
    Some(Answer {
        status,
        close: head.closes(),
    })
}

/// Handles one POST's body from the platform.
fn deliver(body: WholeBody, sink: &BatchSender) -> StatusCode {
    let WholeBody::Within(body) = body else {
        count(
            &OVERSIZE_BATCHES,
            1,
            "a telemetry batch exceeded 4 MiB and was refused with 413",
        );
        return StatusCode::PAYLOAD_TOO_LARGE;
    };
    let (events, skipped) = parse_batch(&body);
    if skipped > 0 {
        count(
            &SKIPPED_ELEMENTS,
            skipped as u64,
            "a telemetry batch held elements lambda-lens does not understand; they were skipped",
        );
    }
    let dropped = sink.send(events);
    if dropped > 0 {
        count(
            &DROPPED_EVENTS,
            dropped as u64,
            "the telemetry queue is full; events are being dropped",
        );
    }
    StatusCode::OK
}

/// Appends an answer head without a body: `HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n` and
/// the like, saying `connection: close` when the connection ends after it.
fn write_answer(out: &mut Vec<u8>, status: StatusCode, close: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\ncontent-length: 0\r\n");
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}
