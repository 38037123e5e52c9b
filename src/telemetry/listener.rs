//! The HTTP listener the platform delivers telemetry batches to: an HTTP/1 server on the proxy's
//! own wire code. Connections are kept alive (pipelined requests are answered in order); only POST
//! is accepted (405 otherwise); a body comes by `Content-Length` or chunked, at most
//! [`MAX_BATCH_BYTES`] (larger: 413, after reading it to its end); a head that is not acceptable
//! HTTP/1 gets 400 (431 beyond the proxy's head limit, `MAX_HEAD_BYTES`) and the connection closes,
//! as it does after a request saying `Connection: close`. Every answer is `content-length: 0`.
//!
//! `100 Continue` goes only to a request whose body will be read (a POST not declaring more than
//! [`MAX_BATCH_BYTES`]); one that waits for it and would be refused gets its 405 or 413 at once,
//! and the connection closes with its body unread. A closing connection is shut for writing and
//! what the client still sends is read and dropped for a bounded moment ([`CLOSE_DRAIN_TIME`],
//! [`CLOSE_DRAIN_BYTES`]): closing with unread input sends a reset, which can destroy the answer
//! before the client reads it.
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
use crate::proxy::head::{self, Framing};
use crate::proxy::whole_body::{read_whole, WholeBody};
use crate::proxy::wire::{read_head, Conn, ReadHeadError, RelayError};
use crate::proxy::MAX_HEAD_BYTES;

/// The interim answer to a request that waits for it before sending its body.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Largest batch read. The platform sends at most `2 * maxBytes + metadata` (about 0.5 MiB with the
/// subscription's 256 KiB); anything larger is answered 413 and counted.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// How long a closing connection is read and dropped at most after its last answer: long enough
/// for the answer to reach a client that is still sending, short enough not to hold the connection.
const CLOSE_DRAIN_TIME: Duration = Duration::from_secs(1);

/// The most bytes read and dropped from a closing connection: a refused batch of up to
/// [`MAX_BATCH_BYTES`] still in flight is read through; a client sending more may get a reset.
const CLOSE_DRAIN_BYTES: usize = MAX_BATCH_BYTES;

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
        if conn.stream.write_all(&out).await.is_err() {
            return;
        }
        if close {
            conn.linger_close(CLOSE_DRAIN_TIME, CLOSE_DRAIN_BYTES).await;
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
    let post = head.method() == "POST";
    if head.expects_continue() {
        // The client waits to be told to send its body: what would be refused after reading it is
        // refused before, and its body is never read.
        if !post {
            return Answer::refusal(StatusCode::METHOD_NOT_ALLOWED);
        }
        if matches!(framing, Framing::Length(declared) if declared > MAX_BATCH_BYTES as u64) {
            return Answer::refusal(refuse_oversize());
        }
        if conn.stream.write_all(CONTINUE).await.is_err() {
            return None;
        }
    }
    let body = match read_whole(&mut conn.stream, &mut conn.buf, framing, MAX_BATCH_BYTES).await {
        Ok(body) => body,
        Err(RelayError::Chunked(_)) => return Answer::refusal(StatusCode::BAD_REQUEST),
        Err(_) => return None,
    };
    let status = if post {
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
        return refuse_oversize();
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

/// Counts a delivery refused for its size; the status it is answered.
fn refuse_oversize() -> StatusCode {
    count(
        &OVERSIZE_BATCHES,
        1,
        "a telemetry batch exceeded 4 MiB and was refused with 413",
    );
    StatusCode::PAYLOAD_TOO_LARGE
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::AsyncReadExt;
    use tokio::net::TcpStream;

    use super::*;
    use crate::telemetry::{queue, BatchReceiver, TelemetryBody, TelemetryEvent};
    use crate::wire_testing::expect_bytes;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";

    /// A listener on an ephemeral loopback port; its address and the owner's end of its queue.
    async fn start() -> (SocketAddr, BatchReceiver) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local address");
        let (tx, rx) = queue(64);
        tokio::spawn(serve(listener, tx));
        (addr, rx)
    }

    /// A batch of `function` lines with these records.
    fn batch(records: &[&str]) -> String {
        let items: Vec<String> = records
            .iter()
            .map(|r| {
                format!(r#"{{"time":"2022-10-12T00:03:50.000Z","type":"function","record":"{r}"}}"#)
            })
            .collect();
        format!("[{}]", items.join(","))
    }

    fn post(body: &str) -> String {
        format!(
            "POST / HTTP/1.1\r\nHost: sandbox.localdomain:9999\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    /// `body` in two chunks, with a trailer.
    fn chunked_post(body: &str) -> String {
        let (a, b) = body.split_at(body.len() / 2);
        format!(
            "POST / HTTP/1.1\r\nHost: sandbox.localdomain\r\nTransfer-Encoding: chunked\r\n\r\n{:x};ext=1\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\nX-Trailer: t\r\n\r\n",
            a.len(),
            b.len()
        )
    }

    fn messages(events: &[TelemetryEvent]) -> Vec<&str> {
        events
            .iter()
            .map(|e| match &e.body {
                TelemetryBody::Log { message, .. } => message.as_str(),
                other => panic!("not a log line: {other:?}"),
            })
            .collect()
    }

    async fn expect_closed(stream: &mut TcpStream) {
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.expect("a clean close");
        assert_eq!(String::from_utf8_lossy(&rest), "");
    }

    /// Sends `request` on a new connection: `answer` comes back, then the end of the stream.
    async fn expect_refusal_then_close(addr: SocketAddr, request: &str, answer: &[u8]) {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("send");
        expect_bytes(&mut stream, answer).await;
        expect_closed(&mut stream).await;
    }

    #[tokio::test]
    async fn pipelined_length_and_chunked_posts_are_answered_in_order_one_message_each() {
        let (addr, mut rx) = start().await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let pipelined = post(&batch(&["a", "b"])) + &chunked_post(&batch(&["c", "d", "e"]));
        stream.write_all(pipelined.as_bytes()).await.expect("send");
        expect_bytes(&mut stream, &[OK, OK].concat()).await;
        let first = rx.recv().await.expect("first delivery");
        assert_eq!(messages(&first), ["a", "b"]);
        let second = rx.recv().await.expect("second delivery");
        assert_eq!(messages(&second), ["c", "d", "e"]);

        // Kept alive: a later delivery on the same connection, split across writes.
        let third = post(&batch(&["f"]));
        let (head, body) = third.split_at(20);
        stream.write_all(head.as_bytes()).await.expect("send");
        stream.write_all(body.as_bytes()).await.expect("send");
        expect_bytes(&mut stream, OK).await;
        assert_eq!(messages(&rx.recv().await.expect("delivery")), ["f"]);
        assert!(rx.try_recv().is_none());
    }

    #[tokio::test]
    async fn other_methods_get_405_and_the_connection_carries_on() {
        let (addr, mut rx) = start().await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let requests = format!(
            "GET / HTTP/1.1\r\nHost: x\r\n\r\nPUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]{}",
            post(&batch(&["after"]))
        );
        stream.write_all(requests.as_bytes()).await.expect("send");
        let refused = b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n";
        expect_bytes(&mut stream, &[&refused[..], refused, OK].concat()).await;
        assert_eq!(messages(&rx.recv().await.expect("delivery")), ["after"]);
        assert!(rx.try_recv().is_none(), "refused requests deliver nothing");
    }

    #[tokio::test]
    async fn oversize_bodies_get_413_after_being_read_through() {
        let (addr, mut rx) = start().await;
        let before = oversize_batches();
        let (mut read, mut write) = TcpStream::connect(addr)
            .await
            .expect("connect")
            .into_split();
        let big = " ".repeat(MAX_BATCH_BYTES + 1);
        let chunked_big = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
            big.len()
        );
        let requests = post(&big) + &chunked_big + &post(&batch(&["kept"]));
        // Written while the answers are read: neither side waits for the other to drain.
        let writer = tokio::spawn(async move {
            write.write_all(requests.as_bytes()).await.expect("send");
            write
        });
        let too_large = b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n";
        let expected = [&too_large[..], too_large, OK].concat();
        let mut got = vec![0; expected.len()];
        read.read_exact(&mut got).await.expect("three answers");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected)
        );
        writer.await.expect("writer");

        // A client waiting for `100 Continue` with a body declared too large is refused at once.
        let waiting = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            MAX_BATCH_BYTES + 1
        );
        expect_refusal_then_close(
            addr,
            &waiting,
            b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        // Only this test sends oversize bodies in this binary, so the count is exact.
        assert_eq!(oversize_batches() - before, 3);
        assert_eq!(messages(&rx.recv().await.expect("delivery")), ["kept"]);
        assert!(
            rx.try_recv().is_none(),
            "nothing of a refused batch is queued"
        );
    }

    #[tokio::test]
    async fn malformed_heads_and_framing_get_400_and_the_connection_closes() {
        let (addr, mut rx) = start().await;
        let bad_request =
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        for malformed in [
            "POST / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 3\r\n\r\n[]",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;x\n[]\r\n0\r\n\r\n",
        ] {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            let then = post(&batch(&["never"]));
            stream
                .write_all((malformed.to_owned() + &then).as_bytes())
                .await
                .expect("send");
            expect_bytes(&mut stream, bad_request).await;
            expect_closed(&mut stream).await;
        }
        assert!(
            rx.try_recv().is_none(),
            "nothing after a malformed head is read"
        );
    }

    #[tokio::test]
    async fn continue_goes_only_to_requests_whose_body_is_read() {
        let (addr, mut rx) = start().await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let body = batch(&["by length"]);
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("send");
        expect_bytes(&mut stream, CONTINUE).await;
        stream.write_all(body.as_bytes()).await.expect("send");
        expect_bytes(&mut stream, OK).await;

        // Chunked: no length to judge by, so the body is asked for.
        let chunked = chunked_post(&batch(&["chunked"]));
        let (head, body) = chunked.split_once("\r\n\r\n").expect("a head and a body");
        let head = format!("{head}\r\nExpect: 100-continue\r\n\r\n");
        stream.write_all(head.as_bytes()).await.expect("send");
        expect_bytes(&mut stream, CONTINUE).await;
        stream.write_all(body.as_bytes()).await.expect("send");
        expect_bytes(&mut stream, OK).await;
        assert_eq!(messages(&rx.recv().await.expect("delivery")), ["by length"]);
        assert_eq!(messages(&rx.recv().await.expect("delivery")), ["chunked"]);

        // Another method is refused at once, and the connection closes with the body unread.
        expect_refusal_then_close(
            addr,
            "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert!(rx.try_recv().is_none());
    }

    #[tokio::test]
    async fn refusals_that_close_are_read_whole_while_the_client_still_sends() {
        let (addr, mut rx) = start().await;
        let oversize_head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\nContent-Length: 2\r\n\r\n[]",
            "p".repeat(MAX_HEAD_BYTES)
        );
        let bad_head_then_more = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n{}",
            " ".repeat(512 * 1024)
        );
        for (request, answer) in [
            (
                oversize_head,
                &b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"[..],
            ),
            (
                bad_head_then_more,
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            ),
        ] {
            let (mut read, mut write) = TcpStream::connect(addr)
                .await
                .expect("connect")
                .into_split();
            // Still sending when the refusal comes: the input the listener never parses is read
            // and dropped, so the close sends no reset that could destroy the answer.
            let writer = tokio::spawn(async move {
                write.write_all(request.as_bytes()).await.expect("send");
                write
            });
            let mut got = Vec::new();
            read.read_to_end(&mut got)
                .await
                .expect("the answer, then a clean end of stream");
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(answer));
            drop(writer.await.expect("writer"));
        }
        assert!(rx.try_recv().is_none());
    }

    #[tokio::test]
    async fn connection_close_is_honoured_and_said() {
        let (addr, mut rx) = start().await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let body = batch(&["last"]);
        let request = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}{}",
            body.len(),
            post(&batch(&["never"]))
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        expect_bytes(
            &mut stream,
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        expect_closed(&mut stream).await;
        assert_eq!(messages(&rx.recv().await.expect("delivery")), ["last"]);
        assert!(rx.try_recv().is_none());
    }
}
