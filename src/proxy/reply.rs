//! Answers of lambda-lens's own to the runtime: a request it could not read (400, 431) and a call it
//! could not forward (502), in the Runtime API's JSON error shape.

use tokio::net::TcpStream;

use super::head::{HeadError, RequestHead};
use super::session::{KeepAlive, Session};
use super::wire::{self, ReadHeadError, RelayError};

/// How an answer to a runtime request is shaped.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reply {
    /// The request was `HEAD`: no body.
    pub(super) head_request: bool,
    /// The runtime's connection closes after the answer (`Connection: close`).
    pub(super) close: bool,
}

impl Reply {
    /// The shape `req` asks for: no body for `HEAD`, a close when it asked for one.
    pub(super) fn to(req: &RequestHead) -> Self {
        Self {
            head_request: req.is_head(),
            close: req.closes(),
        }
    }
}

/// Why a runtime request cannot be read: its head, or its body's framing.
#[derive(Debug, thiserror::Error)]
pub(super) enum Unreadable {
    /// The head could not be read.
    #[error(transparent)]
    Head(#[from] ReadHeadError),
    /// Relaying the body stopped: the runtime left, or its chunked framing is invalid.
    #[error(transparent)]
    Body(RelayError),
}

impl Session {
    /// Answers a request lambda-lens could not read (then the connection closes); `head_request` when
    /// it was a `HEAD` (no body in the answer). A runtime that left gets nothing.
    pub(super) async fn reject(&mut self, error: &Unreadable, head_request: bool) {
        let (status, reason) = match error {
            Unreadable::Head(ReadHeadError::TooLarge(_))
            | Unreadable::Head(ReadHeadError::Head(HeadError::TooManyHeaders)) => {
                (431, "Request Header Fields Too Large")
            }
            Unreadable::Head(ReadHeadError::Head(_)) | Unreadable::Body(RelayError::Chunked(_)) => {
                (400, "Bad Request")
            }
            Unreadable::Head(ReadHeadError::Io(_) | ReadHeadError::Truncated)
            | Unreadable::Body(_) => return,
        };
        tracing::warn!(%error, status, "rejected a runtime request");
        let body = serde_json::json!({
            "errorMessage": format!("lambda-lens could not read the request: {error}"),
            "errorType": "LambdaLens.BadRequest",
        });
        let reply = Reply {
            head_request,
            close: true,
        };
        let _ = answer(&mut self.rt.stream, status, reason, &body, reply).await;
    }

    /// Answers a runtime call lambda-lens could not forward, in the Runtime API's error shape; true
    /// when the answer went out and the runtime's connection can carry another request.
    pub(super) async fn bad_gateway(&mut self, error: &str, reply: Reply) -> KeepAlive {
        let upstream = &self.shared.upstream;
        tracing::error!(%upstream, %error, "cannot reach the upstream Runtime API");
        let body = serde_json::json!({
            "errorMessage": format!("lambda-lens could not reach the Runtime API at {upstream}: {error}"),
            "errorType": "LambdaLens.UpstreamUnavailable",
        });
        answer(&mut self.rt.stream, 502, "Bad Gateway", &body, reply)
            .await
            .is_ok()
            && !reply.close
    }
}

/// Writes a JSON answer of lambda-lens's own.
async fn answer(
    rt: &mut TcpStream,
    status: u16,
    reason: &str,
    body: &serde_json::Value,
    reply: Reply,
) -> std::io::Result<()> {
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n",
        body.len(),
        if reply.close { "connection: close\r\n" } else { "" }
    );
    let body = if reply.head_request { "" } else { &body };
    wire::write_two(rt, head.as_bytes(), body.as_bytes()).await
}
