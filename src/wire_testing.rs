//! Test helpers for the raw HTTP/1 exchanges (the kept client connection, the Telemetry API
//! listener): exact bytes read off a socket.

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Reads exactly `expected.len()` bytes from `stream` and checks they are `expected`, shown as text
/// when they differ.
pub(crate) async fn expect_bytes(stream: &mut TcpStream, expected: &[u8]) {
    let mut got = vec![0; expected.len()];
    stream
        .read_exact(&mut got)
        .await
        .expect("the expected bytes");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected)
    );
}
