//! OTLP/HTTP to an `http://` endpoint on the kept raw connection the event poll also uses
//! (`kept_connection`), instead of hyper: one request head written as hyper's HTTP/1 client writes
//! it (the request line, the header map's lines in its order, then `content-length` unless the map
//! has one or the body is empty), sent with the body in one vectored write; the answer's head read
//! by the proxy's strict parser, its body read whole (at most [`MAX_RESPONSE_BYTES`]); the sender
//! reads only the status and `Retry-After`.
//!
//! Why not hyper here: a hyper exchange is one dispatcher pass per wake, its head encoder and
//! parser, and a header map built and dropped per request; this is one write and the reads of the
//! answer (see the README's "Deliberate choices"). `https://` endpoints stay on hyper + rustls.
//!
//! Failures keep hyper's kinds, so retries, backoff, the circuit and the fault log see the same:
//! no connection or no answer head is [`HttpError::Unreachable`] (a refused connect keeps its
//! `io::Error` as the source, and hyper's text), a body that cannot be read or is too long is
//! [`HttpError::Body`]; the caller's timer makes [`HttpError::TimedOut`].

use std::io;

use http::header::CONTENT_LENGTH;
use http::uri::Authority;
use http::{HeaderMap, Uri};

use super::collector_http::{over_limit, HttpError, MAX_RESPONSE_BYTES, POOL_IDLE_TIMEOUT};
use crate::kept_connection::{Answer, ExchangeError, KeptConnection};

/// A refused or failed connect, with the text hyper's connector gives it (the OS error is the
/// source, as there).
#[derive(Debug, thiserror::Error)]
#[error("tcp connect error")]
struct ConnectError(#[source] io::Error);

/// One `http://` endpoint's kept connection and the head of its unsigned requests.
pub(super) struct PlainConnection {
    connection: KeptConnection,
    /// The request target (origin form).
    origin: Uri,
    /// `POST <origin> HTTP/1.1` and the header lines of every unsigned request.
    head: Vec<u8>,
    /// Whether the headers carry a `content-length` of their own (hyper then adds none).
    has_length: bool,
    /// The request head being sent, reused from request to request.
    out: Vec<u8>,
}

impl PlainConnection {
    /// The connection to `authority`, whose requests go to `origin` with `headers`.
    pub(super) fn new(authority: &Authority, origin: Uri, headers: &HeaderMap) -> Self {
        let mut connection = Self {
            connection: KeptConnection::new(authority).at_most_once(POOL_IDLE_TIMEOUT),
            origin,
            head: Vec::new(),
            has_length: false,
            out: Vec::new(),
        };
        connection.set_headers(headers);
        connection
    }

    /// Takes `headers` for every later unsigned request.
    pub(super) fn set_headers(&mut self, headers: &HeaderMap) {
        self.head.clear();
        write_head(&mut self.head, &self.origin, headers);
        self.has_length = headers.contains_key(CONTENT_LENGTH);
    }

    /// POSTs `body` with the headers given last, or with `signed` (the same, signed) when given;
    /// the answer, its body read whole (at most [`MAX_RESPONSE_BYTES`]).
    pub(super) async fn send(
        &mut self,
        signed: Option<&HeaderMap>,
        body: &[u8],
    ) -> Result<Answer, HttpError> {
        self.out.clear();
        let has_length = match signed {
            Some(headers) => {
                write_head(&mut self.out, &self.origin, headers);
                headers.contains_key(CONTENT_LENGTH)
            }
            None => {
                self.out.extend_from_slice(&self.head);
                self.has_length
            }
        };
        // hyper's rule: a body of known length gets `content-length` unless one is set; an empty
        // body gets none.
        if !has_length && !body.is_empty() {
            self.out.extend_from_slice(b"content-length: ");
            self.out
                .extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
        self.out.extend_from_slice(b"\r\n");
        self.connection
            .exchange(&self.out, body, MAX_RESPONSE_BYTES)
            .await
            .map_err(http_error)
    }
}

/// Writes the request line and `headers`' lines (each `name: value`, names in lowercase, in the
/// map's order) as hyper's HTTP/1 client does.
fn write_head(out: &mut Vec<u8>, origin: &Uri, headers: &HeaderMap) {
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(
        origin
            .path_and_query()
            .map_or("/", |path| path.as_str())
            .as_bytes(),
    );
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The failure as the hyper client would have reported it.
fn http_error(error: ExchangeError) -> HttpError {
    match error {
        ExchangeError::Connect(error) => HttpError::Unreachable(Box::new(ConnectError(error))),
        ExchangeError::TooLarge(_) => HttpError::Body(over_limit()),
        error if error.after_head() => HttpError::Body(error.to_string()),
        error => HttpError::Unreachable(Box::new(error)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{HeaderName, HeaderValue, StatusCode};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::export::failure::{FailureKind, SendError};
    use crate::export::otlp::CollectorHttpClient;

    const ORIGIN: &str = "/v1/traces";

    /// The headers of [`listen`]'s connection besides `host`.
    const HEADERS: [(&str, &str); 4] = [
        ("x-api-key", "secret"),
        ("content-type", "application/x-protobuf"),
        ("user-agent", "agent"),
        ("content-encoding", "gzip"),
    ];

    /// A listener on an ephemeral port, and the connection to it with `headers` (`host` added).
    async fn listen(
        headers: &[(&'static str, &'static str)],
    ) -> (TcpListener, PlainConnection, String) {
        let (listener, connection, host, _) = listen_with(headers).await;
        (listener, connection, host)
    }

    /// [`listen`], and the connection's headers.
    async fn listen_with(
        headers: &[(&'static str, &'static str)],
    ) -> (TcpListener, PlainConnection, String, HeaderMap) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let host = listener.local_addr().expect("an address").to_string();
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map.insert(
            http::header::HOST,
            HeaderValue::from_str(&host).expect("a value"),
        );
        let authority = Authority::try_from(host.as_str()).expect("an authority");
        let connection = PlainConnection::new(&authority, Uri::from_static(ORIGIN), &map);
        (listener, connection, host, map)
    }

    /// Reads one request (its head, then `content-length` bytes of body) from `stream`.
    async fn read_request(stream: &mut TcpStream) -> String {
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n\r\n") {
            let mut byte = [0];
            let n = stream.read(&mut byte).await.expect("read the request");
            if n == 0 {
                return String::from_utf8_lossy(&got).into_owned();
            }
            got.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&got).into_owned();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .map_or(0, |value| value.parse().expect("a length"));
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await.expect("the body");
        head + &String::from_utf8_lossy(&body)
    }

    async fn send(connection: &mut PlainConnection, body: &str) -> Result<Answer, HttpError> {
        connection.send(None, body.as_bytes()).await
    }

    #[tokio::test]
    async fn requests_go_out_as_hyper_writes_them_and_answers_by_length_and_chunks_keep_one_connection(
    ) {
        let (listener, mut connection, host) = listen(&HEADERS).await;
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut requests = Vec::new();
            for answer in [
                &b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"[..],
                b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbusy\r\n0\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ] {
                requests.push(read_request(&mut stream).await);
                stream.write_all(answer).await.expect("answer");
            }
            requests
        });
        let first = send(&mut connection, "first").await.expect("answered");
        assert_eq!((first.status, &first.body[..]), (StatusCode::OK, &b""[..]));
        let second = send(&mut connection, "second").await.expect("answered");
        assert_eq!(
            (
                second.status,
                second.fields.get("retry-after"),
                &second.body[..]
            ),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(&b"2"[..]),
                &b"busy"[..]
            )
        );
        let mut signed = HeaderMap::new();
        signed.insert(
            http::header::HOST,
            HeaderValue::from_str(&host).expect("a value"),
        );
        signed.insert("authorization", HeaderValue::from_static("AWS4 x"));
        let third = connection
            .send(Some(&signed), b"third")
            .await
            .expect("answered");
        assert_eq!(
            (third.status, &third.body[..]),
            (StatusCode::OK, &b"ok"[..])
        );
        let head = format!(
            "POST /v1/traces HTTP/1.1\r\nx-api-key: secret\r\ncontent-type: application/x-protobuf\r\n\
             user-agent: agent\r\ncontent-encoding: gzip\r\nhost: {host}\r\n"
        );
        assert_eq!(
            server.await.expect("the server's script"),
            [
                format!("{head}content-length: 5\r\n\r\nfirst"),
                format!("{head}content-length: 6\r\n\r\nsecond"),
                format!(
                    "POST /v1/traces HTTP/1.1\r\nhost: {host}\r\nauthorization: AWS4 x\r\n\
                     content-length: 5\r\n\r\nthird"
                ),
            ]
        );
    }

    #[tokio::test]
    async fn hyper_would_write_the_same_bytes() {
        let (listener, mut connection, host, headers) = listen_with(&HEADERS).await;
        let server = tokio::spawn(async move {
            let mut requests = Vec::new();
            for _ in 0..2 {
                let (mut stream, _) = listener.accept().await.expect("accept");
                requests.push(read_request(&mut stream).await);
                let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                stream.write_all(ok).await.expect("answer");
            }
            requests
        });
        send(&mut connection, "body").await.expect("answered");
        let mut request = http::Request::new(http_body_util::Full::new(bytes::Bytes::from_static(
            b"body",
        )));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = Uri::from_static(ORIGIN);
        *request.headers_mut() = headers;
        let url: Uri = format!("http://{host}{ORIGIN}").parse().expect("a URL");
        CollectorHttpClient::new(None)
            .endpoint(url)
            .send(request)
            .await
            .expect("answered");
        let requests = server.await.expect("the server's script");
        assert_eq!(requests[0], requests[1]);
        assert_eq!(
            requests[0],
            format!(
                "POST /v1/traces HTTP/1.1\r\nx-api-key: secret\r\ncontent-type: application/x-protobuf\r\n\
                 user-agent: agent\r\ncontent-encoding: gzip\r\nhost: {host}\r\ncontent-length: 4\r\n\r\nbody"
            )
        );
    }

    #[tokio::test]
    async fn an_answer_over_the_limit_fails_as_body() {
        let (listener, mut connection, _) = listen(&[]).await;
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            read_request(&mut stream).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                MAX_RESPONSE_BYTES + 1
            );
            stream.write_all(head.as_bytes()).await.expect("answer");
            stream
                .write_all(&vec![b'x'; MAX_RESPONSE_BYTES + 1])
                .await
                .expect("answer");
        });
        let error = send(&mut connection, "x").await.expect_err("too large");
        assert!(
            matches!(&error, HttpError::Body(text) if *text == over_limit()),
            "{error:?}"
        );
        server.await.expect("the server's script");
    }

    #[tokio::test]
    async fn a_connection_closed_while_idle_is_replaced_and_an_unanswered_export_is_not_sent_again()
    {
        let (listener, mut connection, host) = listen(&[]).await;
        let request =
            format!("POST /v1/traces HTTP/1.1\r\nhost: {host}\r\ncontent-length: 1\r\n\r\nx");
        let server = tokio::spawn(async move {
            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
            let mut seen = Vec::new();
            // Answers, then closes while kept.
            let (mut first, _) = listener.accept().await.expect("accept");
            seen.push(read_request(&mut first).await);
            first.write_all(ok).await.expect("answer");
            drop(first);
            // The replacement answers and stays; the next request is read and left unanswered.
            let (mut second, _) = listener.accept().await.expect("accept");
            seen.push(read_request(&mut second).await);
            second.write_all(ok).await.expect("answer");
            seen.push(read_request(&mut second).await);
            drop(second);
            // No third connection: the request that went out whole is not sent again.
            let again = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
            assert!(again.is_err(), "the unanswered export was sent again");
            seen
        });
        send(&mut connection, "x").await.expect("answered");
        // The close reaches the client's socket before the next request.
        tokio::time::sleep(Duration::from_millis(20)).await;
        send(&mut connection, "x")
            .await
            .expect("answered on a new connection");
        let error = send(&mut connection, "x").await.expect_err("unanswered");
        assert!(matches!(error, HttpError::Unreachable(_)), "{error:?}");
        assert_eq!(server.await.expect("the server's script"), vec![request; 3]);

        let error = send(&mut connection, "x").await.expect_err("refused");
        assert_eq!(
            error.to_string(),
            "cannot reach the collector: tcp connect error"
        );
        let error = SendError::Http(error);
        assert!(error.is_refused_connection());
        assert_eq!(error.kind(), FailureKind::Unreachable);
    }

    #[tokio::test]
    async fn an_answer_sent_before_the_body_was_read_is_the_outcome() {
        let (listener, mut connection, _) = listen(&[]).await;
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                let mut byte = [0];
                stream.read_exact(&mut byte).await.expect("the head");
                head.push(byte[0]);
            }
            stream
                .write_all(b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                .await
                .expect("answer");
            // Closes with the body unread, as servers do with a body over their limit.
        });
        let body = "x".repeat(8 * 1024 * 1024);
        let answer = send(&mut connection, &body).await.expect("the answer");
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
        server.await.expect("the server's script");
    }

    #[tokio::test]
    async fn an_answer_the_collector_sent_unasked_while_idle_is_not_taken_for_the_next_one() {
        let (listener, mut connection, host) = listen(&[]).await;
        let request =
            format!("POST /v1/traces HTTP/1.1\r\nhost: {host}\r\ncontent-length: 1\r\n\r\nx");
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            let (mut first, _) = listener.accept().await.expect("accept");
            seen.push(read_request(&mut first).await);
            first
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .expect("answer");
            first
                .write_all(b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                .await
                .expect("the idle connection's 408");
            drop(first);
            let (mut second, _) = listener.accept().await.expect("accept");
            seen.push(read_request(&mut second).await);
            second
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .expect("answer");
            seen
        });
        let answer = send(&mut connection, "x").await.expect("answered");
        assert_eq!(answer.status, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let answer = send(&mut connection, "x").await.expect("answered");
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(server.await.expect("the server's script"), vec![request; 2]);
    }

    #[tokio::test]
    async fn interim_answers_http_1_0_closing_and_until_close_answers_are_read_and_not_kept() {
        let (listener, mut connection, _) = listen(&[]).await;
        let server = tokio::spawn(async move {
            let mut accepted = 0;
            // Interim answers are skipped; the HTTP/1.0 answer after them ends the connection.
            let (mut a, _) = listener.accept().await.expect("accept");
            accepted += 1;
            read_request(&mut a).await;
            a.write_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .expect("answer");
            read_request(&mut a).await;
            a.write_all(b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .expect("answer");
            // Each of these answers ends its connection but the last, which stays open.
            let answers: [&[u8]; 4] = [
                b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
                b"HTTP/1.1 200 OK\r\n\r\nuntil close",
                b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            ];
            for (n, answer) in answers.iter().enumerate() {
                let (mut next, _) = listener.accept().await.expect("accept");
                accepted += 1;
                read_request(&mut next).await;
                next.write_all(answer).await.expect("answer");
                if n + 1 == answers.len() {
                    let _ = next.read(&mut [0; 1]).await;
                }
            }
            accepted
        });
        let mut answers = Vec::new();
        for _ in 0..6 {
            let answer = send(&mut connection, "x").await.expect("an answer");
            answers.push((
                answer.status.as_u16(),
                String::from_utf8_lossy(&answer.body).into_owned(),
            ));
        }
        drop(connection);
        assert_eq!(
            answers,
            [
                (200, String::new()),
                (200, "ok".to_owned()),
                (503, String::new()),
                (200, "until close".to_owned()),
                (200, "ok".to_owned()),
                (200, String::new()),
            ]
        );
        assert_eq!(server.await.expect("the server's script"), 5);
    }
}
