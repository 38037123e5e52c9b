//! One kept raw HTTP/1 connection to the Runtime API host for a request made again and again (the
//! Extensions API's `/event/next` long poll), on the proxy's own wire code: the request's fixed head
//! in one write, the answer's head read by the proxy's strict parser within its head limit
//! (`MAX_HEAD_BYTES`), its body by its length or chunks, bounded by the caller.
//! Nagle is off and nothing times out: a long poll sits idle across freezes.

use std::io;

use bytes::Bytes;
use http::uri::Authority;
use http::StatusCode;
use tokio::io::AsyncWriteExt;

use crate::proxy::head::Framing;
use crate::proxy::whole_body::{read_whole, WholeBody};
use crate::proxy::wire::Conn;

/// A failed exchange on a [`PollConnection`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum PollError {
    /// No TCP connection to the Runtime API host.
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

impl PollError {
    /// Whether the failure came after the answer's head: the exchange itself happened (the
    /// connection is dropped all the same; the next exchange opens another).
    pub(crate) fn after_head(&self) -> bool {
        matches!(self, Self::Body(_) | Self::TooLarge(_))
    }
}

/// An answer: its status and its body, framing removed.
#[derive(Debug)]
pub(crate) struct PollAnswer {
    /// The status code.
    pub(crate) status: StatusCode,
    /// The body.
    pub(crate) body: Bytes,
}

/// The kept connection, opened by the first exchange.
pub(crate) struct PollConnection {
    host: String,
    port: u16,
    conn: Option<Conn>,
}

impl PollConnection {
    /// A connection to `authority` (port 80 when it names none), opened by the first exchange.
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
        }
    }

    /// Writes `request` (a whole request head, no body) and reads the answer, its body bounded by
    /// `limit`. A kept connection found closed before any byte of the answer came is replaced
    /// once; a new connection's failure is final.
    pub(crate) async fn exchange(
        &mut self,
        request: &[u8],
        limit: usize,
    ) -> Result<PollAnswer, PollError> {
        // Taken out while in use: an exchange abandoned half-way leaves no connection in an
        // unknown state.
        if let Some(mut conn) = self.conn.take() {
            let received_before = conn.buf.received();
            match attempt(&mut conn, request, limit).await {
                Ok((answer, keep)) => {
                    self.keep(conn, keep);
                    return Ok(answer);
                }
                Err(PollError::Send(_) | PollError::Answer(_))
                    if conn.buf.received() == received_before => {}
                Err(e) => return Err(e),
            }
        }
        let mut conn = Conn::connect((self.host.as_str(), self.port))
            .await
            .map_err(PollError::Connect)?;
        let (answer, keep) = attempt(&mut conn, request, limit).await?;
        self.keep(conn, keep);
        Ok(answer)
    }

    fn keep(&mut self, conn: Conn, keep: bool) {
        if keep {
            self.conn = Some(conn);
        }
    }
}

/// One exchange on `conn`; the answer and whether the connection can carry the next one.
async fn attempt(
    conn: &mut Conn,
    request: &[u8],
    limit: usize,
) -> Result<(PollAnswer, bool), PollError> {
    conn.stream
        .write_all(request)
        .await
        .map_err(PollError::Send)?;
    let head = conn.final_head().await.map_err(PollError::Answer)?;
    let framing = head
        .framing(false)
        .map_err(|e| PollError::Framing(e.to_string()))?;
    let body = read_whole(&mut conn.stream, &mut conn.buf, framing, limit)
        .await
        .map_err(|e| PollError::Body(e.to_string()))?;
    let keep = !head.closes() && framing != Framing::UntilClose;
    match body {
        WholeBody::Within(body) => Ok((
            PollAnswer {
                status: StatusCode::from_u16(head.status())
                    .map_err(|e| PollError::Answer(e.to_string()))?,
                body,
            },
            keep,
        )),
        WholeBody::TooLarge => Err(PollError::TooLarge(limit)),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};

    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    const REQUEST: &[u8] = b"GET /next HTTP/1.1\r\nhost: h\r\n\r\n";
    const LIMIT: usize = 64;

    async fn listen() -> (TcpListener, PollConnection) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind an ephemeral port");
        let addr: SocketAddr = listener.local_addr().expect("local address");
        let authority = Authority::try_from(addr.to_string()).expect("an authority");
        (listener, PollConnection::new(&authority))
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

    async fn body(conn: &mut PollConnection) -> String {
        let answer = conn.exchange(REQUEST, LIMIT).await.expect("an answer");
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
            .exchange(REQUEST, LIMIT)
            .await
            .expect_err("closed twice");
        assert!(matches!(failed, PollError::Answer(_)), "{failed:?}");
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
        let failed = conn.exchange(REQUEST, LIMIT).await.expect_err("too large");
        assert!(matches!(failed, PollError::TooLarge(LIMIT)), "{failed:?}");
        assert!(failed.after_head());
        server.await.expect("the server's script");
    }
}
