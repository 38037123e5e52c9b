//! Upstream connections: keep-alive TCP connections to the Runtime API, Nagle off and no timeouts (a
//! long poll sits idle across freezes). A runtime connection keeps the upstream connection it used for
//! as long as it lives, as a plain relay would; when it ends, the upstream connection goes back to a
//! small pool for the next runtime connection. A connection the upstream may close after its answer
//! (one that carried an HTTP/1.0 request) is used once. Also the head a runtime request is sent
//! upstream with.

use std::io;
use std::sync::Mutex;

use super::head::RequestHead;
use super::lock;
use super::names;
use super::wire::Conn;
use crate::settings::RuntimeApiEndpoint;

/// Idle upstream connections kept. Lambda Managed Instances may run several invocations at once;
/// beyond this, connections are closed when their runtime connection ends.
const MAX_IDLE: usize = 32;

/// Whether a kept connection can carry another request: it was not for a single use, nothing
/// unexpected was sent on it and it has not been closed. Only costs a system call when the socket
/// was reported readable.
fn is_idle_and_open(conn: &Conn) -> bool {
    if conn.single_use || !conn.buf.bytes.is_empty() {
        return false;
    }
    let mut probe = [0u8; 1];
    matches!(conn.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// Whether a connection from the pool carried requests before.
pub(crate) type Reused = bool;

/// Connects to one upstream address and keeps idle connections.
#[derive(Debug)]
pub(crate) struct Pool {
    address: String,
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    /// A pool for `address` (`host:port`).
    pub(crate) fn new(address: String) -> Self {
        Self {
            address,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// `current` if it can be used again, else an idle connection, else a new one; and whether the
    /// connection was used before (so that a close found on it may be answered by one retry).
    pub(crate) async fn get(&self, current: Option<Conn>) -> io::Result<(Conn, Reused)> {
        if let Some(conn) = current.filter(is_idle_and_open) {
            return Ok((conn, true));
        }
        loop {
            let idle = lock(&self.idle).pop();
            match idle {
                Some(conn) if is_idle_and_open(&conn) => return Ok((conn, true)),
                Some(_) => continue,
                None => break,
            }
        }
        Ok((Conn::connect(self.address.as_str()).await?, false))
    }

    /// Drops the idle connections (after one turned out closed, the others likely are too).
    pub(crate) fn discard_idle(&self) {
        lock(&self.idle).clear();
    }

    /// Keeps a connection that finished its exchanges cleanly, up to [`MAX_IDLE`].
    pub(crate) fn put(&self, conn: Conn) {
        if conn.single_use {
            return;
        }
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

/// Appends the upstream head for a runtime request to `out`, with `Host` (and, when a transform
/// replaced the body, a new `Content-Length`) set.
pub(super) fn write_request_head(
    out: &mut Vec<u8>,
    upstream: &RuntimeApiEndpoint,
    req: &RequestHead,
    content_length: Option<usize>,
) {
    let host = upstream.authority().as_str().as_bytes();
    let length = content_length.map(|n| n.to_string());
    match &length {
        Some(n) => req.write_upstream(
            out,
            upstream.base_path(),
            &[(names::HOST, host), (names::CONTENT_LENGTH, n.as_bytes())],
        ),
        None => req.write_upstream(out, upstream.base_path(), &[(names::HOST, host)]),
    }
}
