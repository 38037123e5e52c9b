//! One kept raw HTTP/1 client connection for requests made again and again to one host (the
//! Extensions API's `/event/next` long poll; OTLP/HTTP export requests to `http://` collectors), on
//! the proxy's own wire code: a request's head and body in one vectored write, the answer's head
//! read by the proxy's strict parser within its head limit (`MAX_HEAD_BYTES`), its body by its
//! length or chunks, bounded by the caller. Nagle is off. The caller bounds an exchange in time
//! (the long poll has no bound: it sits idle across freezes); an exchange cut short drops its
//! connection. How a connection is reused, and whether a request may go out twice, is the
//! caller's [`Reuse`]: the poll's request is safe to repeat, an export's must arrive at most once.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use http::uri::Authority;
use http::StatusCode;
use tokio::time::Instant;

use crate::proxy::head::{Fields, Framing, ResponseHead};
use crate::proxy::whole_body::{read_whole, WholeBody};
use crate::proxy::wire::{write_two, Conn};

/// A failed exchange on a [`KeptConnection`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExchangeError {
    /// No TCP connection to the host.
    #[error("tcp connect error: {0}")]
    Connect(#[source] io::Error),
    /// The request could not be written.
    #[error("sending the request failed: {0}")]
    Send(#[source] io::Error),
    /// No acceptable answer head came.
    #[error("reading the answer failed: {0}")]
    Answer(String),
    /// The answer's head frames its body in a way that cannot be relied on.
    #[error("the answer's framing is unusable: {0}")]
    Framing(String),
    /// The answer's body could not be read to its end.
    #[error("reading the answer's body failed: {0}")]
    Body(String),
    /// The answer's body is longer than the caller's limit.
    #[error("the answer's body exceeds {0} bytes")]
    TooLarge(usize),
}

impl ExchangeError {
    /// Whether the failure came after the answer's head: the exchange itself happened (the
    /// connection is dropped all the same; the next exchange opens another).
    pub(crate) fn after_head(&self) -> bool {
        matches!(self, Self::Body(_) | Self::TooLarge(_))
    }
}

/// An answer: its status, its header lines and its body, framing removed.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The status code.
    pub(crate) status: StatusCode,
    /// The header lines.
    pub(crate) fields: Fields,
    /// The body.
    pub(crate) body: Bytes,
}

/// How a kept connection is used again, and whether a request may go out twice.
#[derive(Debug, Clone, Copy)]
enum Reuse {
    /// Kept however long it stays idle. A request written whole on a kept connection that brings
    /// not one byte of answer is sent once more, on a new connection: for a request that is safe
    /// to repeat (the `/event/next` poll: an unanswered poll delivered no event).
    Repeat,
    /// For a request that must arrive at most once (an export): the kept connection is replaced
    /// before the request goes out when it was idle longer than `idle_limit`, or when the peer
    /// closed it or sent anything unasked while it was idle and the reactor has seen it (a `408`,
    /// say; a close that lands just as the request goes out is not seen); a request written
    /// whole is never sent again (an export whose answer is lost fails, and its batch is retried
    /// by the exporter's own rules).
    AtMostOnce { idle_limit: Duration },
}

/// The kept connection, opened by the first exchange.
pub(crate) struct KeptConnection {
    host: String,
    port: u16,
    conn: Option<Conn>,
    reuse: Reuse,
    /// When the kept connection finished its last exchange (read only for [`Reuse::AtMostOnce`]).
    last_used: Instant,
}

impl KeptConnection {
    /// A connection to `authority` (port 80 when it names none), opened by the first exchange and
    /// kept however long it stays idle, for requests that are safe to repeat ([`Reuse::Repeat`]).
    pub(crate) fn new(authority: &Authority) -> Self {
        Self {
            // `Authority::host` keeps an IPv6 literal's brackets; the resolver wants it bare.
            host: authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: authority.port_u16().unwrap_or(80),
            conn: None,
            reuse: Reuse::Repeat,
            last_used: Instant::now(),
        }
    }

    /// The same, for requests that must arrive at most once ([`Reuse::AtMostOnce`]): a connection
    /// idle for longer than `idle_limit`, or one the peer closed or wrote to while idle, is
    /// replaced instead of reused, and a request written whole is not sent again.
    pub(crate) fn at_most_once(mut self, idle_limit: Duration) -> Self {
        self.reuse = Reuse::AtMostOnce { idle_limit };
        self
    }

    /// Writes `head` (a whole request head) and `body` and reads the answer, its body bounded by
    /// `limit`. On a kept connection, a request that could not be written whole (or, with
    /// [`Reuse::Repeat`], one that brought not one byte of answer) is sent once more on a new
    /// connection; a new connection's failure is final.
    pub(crate) async fn exchange(
        &mut self,
        head: &[u8],
        body: &[u8],
        limit: usize,
    ) -> Result<Answer, ExchangeError> {
        // Taken out while in use: an exchange abandoned half-way leaves no connection in an
        // unknown state.
        let kept = self.conn.take().filter(|conn| self.reusable(conn));
        if let Some(mut conn) = kept {
            let received_before = conn.buf.received();
            match attempt(&mut conn, head, body, limit, self.early_answer()).await {
                Ok((answer, keep)) => {
                    self.keep(conn, keep);
                    return Ok(answer);
                }
                // Not written whole: the peer cannot have acted on it.
                Err(ExchangeError::Send(_)) if conn.buf.received() == received_before => {}
                Err(ExchangeError::Answer(_))
                    if matches!(self.reuse, Reuse::Repeat)
                        && conn.buf.received() == received_before => {}
                Err(e) => return Err(e),
            }
        }
        let mut conn = Conn::connect((self.host.as_str(), self.port))
            .await
            .map_err(ExchangeError::Connect)?;
        let (answer, keep) = attempt(&mut conn, head, body, limit, self.early_answer()).await?;
        self.keep(conn, keep);
        Ok(answer)
    }

    /// Whether an answer sent before the request was read counts: only for a request that may
    /// carry a body the peer refuses, and whose exchange the caller bounds in time (an export).
    fn early_answer(&self) -> bool {
        matches!(self.reuse, Reuse::AtMostOnce { .. })
    }

    /// Whether the kept `conn` may carry the next request (see [`Reuse`]).
    fn reusable(&self, conn: &Conn) -> bool {
        match self.reuse {
            Reuse::Repeat => true,
            Reuse::AtMostOnce { idle_limit } => {
                self.last_used.elapsed() <= idle_limit && conn.buf.bytes.is_empty() && quiet(conn)
            }
        }
    }

    fn keep(&mut self, conn: Conn, keep: bool) {
        if keep {
            if matches!(self.reuse, Reuse::AtMostOnce { .. }) {
                self.last_used = Instant::now();
            }
            self.conn = Some(conn);
        }
    }
}

/// Whether nothing came on an idle `conn`: no byte and no end of stream. A readiness the reactor
/// has not reported costs no system call; otherwise one read (of at most a byte) answers it.
fn quiet(conn: &Conn) -> bool {
    let mut byte = [0];
    matches!(conn.stream.try_read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// One exchange on `conn`; the answer and whether the connection can carry the next one.
/// `early_answer`: whether an answer the peer sent before it stopped reading the request counts
/// (see [`answered_early`]).
async fn attempt(
    conn: &mut Conn,
    head: &[u8],
    body: &[u8],
    limit: usize,
    early_answer: bool,
) -> Result<(Answer, bool), ExchangeError> {
    if let Err(e) = write_two(&mut conn.stream, head, body).await {
        if !(early_answer && answered_early(&e)) {
            return Err(ExchangeError::Send(e));
        }
        // A peer that stops reading may have answered first (a 413 for a body it will not take):
        // that answer is the outcome. The connection carries nothing more.
        let answer = conn
            .final_head()
            .await
            .map_err(|_| ExchangeError::Send(e))?;
        let (answer, _) = finish(conn, answer, limit).await?;
        return Ok((answer, false));
    }
    let answer = conn.final_head().await.map_err(ExchangeError::Answer)?;
    finish(conn, answer, limit).await
}

/// Whether a failed write may have left an answer to read: the peer closed or reset the
/// connection, so the read that looks for it ends at once. Any other failure (out of buffers,
/// say) may leave the connection up and the peer waiting for the rest of the request.
fn answered_early(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// Reads the body of the answer whose head is `answer`; the answer and whether the connection can
/// carry the next exchange.
async fn finish(
    conn: &mut Conn,
    answer: ResponseHead,
    limit: usize,
) -> Result<(Answer, bool), ExchangeError> {
    let framing = answer
        .framing(false)
        .map_err(|e| ExchangeError::Framing(e.to_string()))?;
    let status =
        StatusCode::from_u16(answer.status()).map_err(|e| ExchangeError::Answer(e.to_string()))?;
    let body = read_whole(&mut conn.stream, &mut conn.buf, framing, limit)
        .await
        .map_err(|e| ExchangeError::Body(e.to_string()))?;
    let keep = !answer.closes() && framing != Framing::UntilClose;
    match body {
        WholeBody::Within(body) => Ok((
            Answer {
                status,
                fields: answer.fields,
                body,
            },
            keep,
        )),
        WholeBody::TooLarge => Err(ExchangeError::TooLarge(limit)),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::wire_testing::expect_bytes;

    const REQUEST: &[u8] = b"GET /next HTTP/1.1\r\nhost: h\r\n\r\n";
    const LIMIT: usize = 64;

    async fn listen() -> (TcpListener, KeptConnection) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind an ephemeral port");
        let addr: SocketAddr = listener.local_addr().expect("local address");
        let authority = Authority::try_from(addr.to_string()).expect("an authority");
        (listener, KeptConnection::new(&authority))
    }

    /// Reads one request head from `stream` and checks it is [`REQUEST`], byte for byte.
    async fn expect_request(stream: &mut TcpStream) {
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n\r\n") {
            let mut byte = [0];
            let n = stream.read(&mut byte).await.expect("read the request");
            assert_eq!(n, 1, "the connection ended after {got:?}");
            got.push(byte[0]);
        }
        assert_eq!(got, REQUEST);
    }

    /// Accepts a connection, reads a request and answers `answer`; the connection stays open.
    async fn answer(listener: &TcpListener, answer: &[u8]) -> TcpStream {
        let (mut stream, _) = listener.accept().await.expect("accept");
        expect_request(&mut stream).await;
        stream.write_all(answer).await.expect("answer");
        stream
    }

    async fn body(conn: &mut KeptConnection) -> String {
        let answer = conn.exchange(REQUEST, b"", LIMIT).await.expect("an answer");
        assert_eq!(answer.status, StatusCode::OK);
        String::from_utf8_lossy(&answer.body).into_owned()
    }

    #[tokio::test]
    async fn answers_by_length_and_chunks_share_a_kept_connection_replaced_once_closed() {
        let (listener, mut conn) = listen().await;
        let server = tokio::spawn(async move {
            let mut kept = answer(
                &listener,
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nfirst",
            )
            .await;
            expect_request(&mut kept).await;
            kept.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nsec\r\n3\r\nond\r\n0\r\nT: v\r\n\r\n",
            )
            .await
            .expect("answer");
            // Closed while kept, between two polls (as after a restore).
            drop(kept);
            answer(
                &listener,
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthird",
            )
            .await
        });
        assert_eq!(body(&mut conn).await, "first");
        assert_eq!(body(&mut conn).await, "second");
        assert_eq!(body(&mut conn).await, "third");
        server.await.expect("the server's script");
    }

    #[tokio::test]
    async fn a_new_connections_failure_is_final() {
        let (listener, mut conn) = listen().await;
        let server = tokio::spawn(async move {
            drop(
                answer(
                    &listener,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst",
                )
                .await,
            );
            // The replacement closes too, without answering: no third attempt.
            drop(answer(&listener, b"").await);
            answer(
                &listener,
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh",
            )
            .await
        });
        assert_eq!(body(&mut conn).await, "first");
        let failed = conn
            .exchange(REQUEST, b"", LIMIT)
            .await
            .expect_err("closed twice");
        assert!(matches!(failed, ExchangeError::Answer(_)), "{failed:?}");
        assert!(!failed.after_head());
        assert_eq!(body(&mut conn).await, "fresh");
        server.await.expect("the server's script");
    }

    #[tokio::test]
    async fn a_closing_answer_is_not_kept_and_an_oversize_body_fails_after_the_head() {
        let (listener, mut conn) = listen().await;
        let server = tokio::spawn(async move {
            let mut closing = answer(
                &listener,
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nlast",
            )
            .await;
            // The client lets the connection go rather than send another request on it.
            let mut rest = Vec::new();
            closing.read_to_end(&mut rest).await.expect("a clean close");
            assert!(rest.is_empty(), "{rest:?}");
            let big = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
                LIMIT + 1,
                "x".repeat(LIMIT + 1)
            );
            answer(&listener, big.as_bytes()).await
        });
        assert_eq!(body(&mut conn).await, "last");
        let failed = conn
            .exchange(REQUEST, b"", LIMIT)
            .await
            .expect_err("too large");
        assert!(
            matches!(failed, ExchangeError::TooLarge(LIMIT)),
            "{failed:?}"
        );
        assert!(failed.after_head());
        server.await.expect("the server's script");
    }

    #[tokio::test]
    async fn a_body_follows_its_head_and_a_connection_idle_past_its_limit_is_replaced() {
        const HEAD: &[u8] = b"POST /in HTTP/1.1\r\nhost: h\r\ncontent-length: 4\r\n\r\n";
        const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        let request = [HEAD, b"data"].concat();
        let (listener, conn) = listen().await;
        let mut conn = conn.at_most_once(Duration::from_secs(30));
        let expected = request.clone();
        let server = tokio::spawn(async move {
            let (mut first, _) = listener.accept().await.expect("accept");
            for _ in 0..2 {
                expect_bytes(&mut first, &expected).await;
                first.write_all(OK).await.expect("answer");
            }
            let (mut second, _) = listener.accept().await.expect("accept");
            expect_bytes(&mut second, &expected).await;
            second.write_all(OK).await.expect("answer");
            // The connection idle past its limit was let go, not used again.
            let mut rest = Vec::new();
            first.read_to_end(&mut rest).await.expect("a clean close");
            assert!(rest.is_empty(), "{rest:?}");
        });
        let idle_for = |conn: &mut KeptConnection, idle: u64| {
            conn.last_used = Instant::now()
                .checked_sub(Duration::from_secs(idle))
                .expect("the clock is past that");
        };
        for idle in [None, Some(29), Some(31)] {
            if let Some(idle) = idle {
                idle_for(&mut conn, idle);
            }
            let answer = conn
                .exchange(HEAD, b"data", LIMIT)
                .await
                .expect("an answer");
            assert_eq!(
                (answer.status, &answer.body[..]),
                (StatusCode::OK, &b"ok"[..])
            );
        }
        drop(conn);
        server.await.expect("the server's script");
    }
}
