//! A raw upstream: the test plays the Runtime API on a bare [`TcpListener`], accepting the proxy's
//! connections and writing answers byte for byte.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::wire::{read_request, WIRE_TIMEOUT};

/// The next upstream connection the proxy opens.
pub async fn accept(listener: &TcpListener) -> TcpStream {
    tokio::time::timeout(WIRE_TIMEOUT, listener.accept())
        .await
        .expect("the proxy connects upstream in time")
        .expect("accept")
        .0
}

/// Whether `listener` gets no new connection within `wait`.
pub async fn no_connection_within(listener: &TcpListener, wait: Duration) -> bool {
    tokio::time::timeout(wait, listener.accept()).await.is_err()
}

/// Accepts the proxy's next upstream connection, reads one request from it and writes `answer`;
/// yields the request and the connection (kept open).
pub fn answer_once(
    upstream: TcpListener,
    answer: String,
) -> JoinHandle<((String, Vec<u8>), TcpStream)> {
    tokio::spawn(async move {
        let mut s = accept(&upstream).await;
        let got = read_request(&mut s, &mut Vec::new()).await;
        s.write_all(answer.as_bytes()).await.expect("write answer");
        (got, s)
    })
}

/// A raw answer with a `Content-Length` body.
pub fn answer_with_body(status_line: &str, headers: &str, body: &str) -> String {
    format!(
        "{status_line}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// An event answer for request id `id`.
pub fn event_answer(id: &str) -> String {
    answer_with_body(
        "HTTP/1.1 200 OK",
        &format!("Lambda-Runtime-Aws-Request-Id: {id}\r\n"),
        &format!(r#"{{"id":"{id}"}}"#),
    )
}
