//! Answers of lambda-lens's own to the runtime: a request it could not read (400, 431) and a call it
//! could not forward (502), in the Runtime API's JSON error shape.

use tokio::net::TcpStream;

use super::session::{KeepAlive, Session};
use super::wire::{self, ReadHeadError};

/// How an answer of lambda-lens's own is shaped.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Reply {
    /// The request was `HEAD`: no body.
    pub(super) head_request: bool,
    /// The runtime's connection closes after the answer (`Connection: close`).
    pub(super) close: bool,
}

impl Session {
    /// Answers a request lambda-lens could not read (then the connection closes); `head_request` when
    /// it was a `HEAD` (no body in the answer).
    pub(super) async fn reject(&mut self, error: &ReadHeadError, head_request: bool) {
        let (status, reason) = match error {
            ReadHeadError::TooLarge(_) => (431, "Request Header Fields Too Large"),
            ReadHeadError::Head(_) => (400, "Bad Request"),
            ReadHeadError::Io(_) | ReadHeadError::Truncated => return,
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
