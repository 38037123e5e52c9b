//! Raw sockets for tests that need exact bytes: reading heads, bodies and requests off a
//! [`TcpStream`], expecting exact bytes, silence or a close, each step bounded by [`WIRE_TIMEOUT`].

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;

/// Longest any single step on a raw socket may take.
pub const WIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A runtime's `/next`, byte for byte.
pub const NEXT_REQUEST: &[u8] =
    b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";

/// Reads once more into `pending`; the peer must not close.
pub async fn fill(s: &mut TcpStream, pending: &mut Vec<u8>) {
    let mut buf = vec![0u8; 64 * 1024];
    let n = tokio::time::timeout(WIRE_TIMEOUT, s.read(&mut buf))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no bytes in time; got so far: {:?}",
                String::from_utf8_lossy(pending)
            )
        })
        .expect("read");
    assert!(
        n > 0,
        "connection closed early; got so far: {:?}",
        String::from_utf8_lossy(pending)
    );
    pending.extend_from_slice(&buf[..n]);
}

/// Reads one message head (through its blank line) out of `pending`, reading more as needed.
pub async fn read_head(s: &mut TcpStream, pending: &mut Vec<u8>) -> String {
    let end = loop {
        if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        fill(s, pending).await;
    };
    let head = String::from_utf8(pending[..end].to_vec()).expect("ascii head");
    pending.drain(..end);
    head
}

/// Reads `n` body bytes out of `pending`, reading more as needed.
pub async fn read_body(s: &mut TcpStream, pending: &mut Vec<u8>, n: usize) -> Vec<u8> {
    while pending.len() < n {
        fill(s, pending).await;
    }
    pending.drain(..n).collect()
}

/// The `Content-Length` of a head (0 without one).
pub fn content_length(head: &str) -> usize {
    head.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| {
            v.trim().parse().expect("numeric Content-Length")
        })
}

/// Reads one request (head and `Content-Length` body); bytes past it stay in `pending`.
pub async fn read_request(s: &mut TcpStream, pending: &mut Vec<u8>) -> (String, Vec<u8>) {
    let head = read_head(s, pending).await;
    let body = read_body(s, pending, content_length(&head)).await;
    (head, body)
}

/// Reads until exactly `expected` arrived (more, or different, bytes fail the test).
pub async fn expect_bytes(s: &mut TcpStream, expected: &[u8]) {
    expect_bytes_after(s, &mut Vec::new(), expected).await;
}

/// Reads until `pending` holds exactly `expected`.
pub async fn expect_bytes_after(s: &mut TcpStream, pending: &mut Vec<u8>, expected: &[u8]) {
    while pending.len() < expected.len() && expected.starts_with(pending) {
        fill(s, pending).await;
    }
    assert_eq!(
        String::from_utf8_lossy(pending),
        String::from_utf8_lossy(expected)
    );
}

/// Reads until the peer closes the connection.
pub async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    tokio::time::timeout(WIRE_TIMEOUT, s.read_to_end(&mut got))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the connection stayed open; got: {:?}",
                String::from_utf8_lossy(&got)
            )
        })
        .expect("clean close");
    got
}

/// Reads until the peer closes; a reset after some bytes counts as a close (a peer closing with
/// unread bytes resets the connection).
pub async fn read_until_closed<R: AsyncRead + Unpin>(r: &mut R) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let read = tokio::time::timeout(WIRE_TIMEOUT, r.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no answer or close in time; got: {:?}",
                    String::from_utf8_lossy(&raw)
                )
            });
        match read {
            Ok(0) => return raw,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !raw.is_empty() => {
                return raw
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Asserts that nothing arrives on `s` (and it stays open) for `wait`.
pub async fn assert_quiet(s: &mut TcpStream, wait: Duration) {
    let mut buf = [0u8; 256];
    if let Ok(read) = tokio::time::timeout(wait, s.read(&mut buf)).await {
        let n = read.expect("read");
        panic!(
            "expected silence, got {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
}

/// Splits a lambda-lens error answer into its head and its JSON body.
pub fn split_answer(raw: &[u8]) -> (String, serde_json::Value) {
    let text = String::from_utf8(raw.to_vec()).expect("ascii answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON body ({e}): {text}"));
    (format!("{head}\r\n\r\n"), json)
}
