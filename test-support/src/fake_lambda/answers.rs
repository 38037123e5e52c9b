//! How the fake answers each call: `/next` long polls until an invocation is pushed, results are
//! accepted within the Runtime API's payload limits, extensions register and poll their events, and
//! an answer set up by a test wins over all of these.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::{lock, Call, State};

/// The largest payload the Runtime API accepts (6 MiB + 100 bytes).
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024 + 100;
/// The largest streamed response the Runtime API accepts.
const MAX_STREAMED_PAYLOAD: usize = 200 * 1024 * 1024;

fn json_response(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Full::new(body.into()))
        .expect("valid fake response")
}

/// Records the call `req` (made on connection number `connection`) and answers it.
pub(super) async fn handle(
    state: Arc<State>,
    connection: usize,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, mut body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let mut data = Vec::new();
    let mut frames = Vec::new();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(chunk) = frame.data_ref() {
            frames.push((Instant::now(), chunk.len()));
            data.extend_from_slice(chunk);
        } else if let Some(t) = frame.trailers_ref() {
            trailers = Some(t.clone());
        }
    }
    let call = Call {
        method: parts.method.clone(),
        path: path.clone(),
        headers: parts.headers.clone(),
        body: Bytes::from(data),
        trailers,
        frames,
        connection,
    };
    let body_len = call.body.len();
    let is_register = path == "/2020-01-01/extension/register";
    if is_register {
        if let Some(probe) = lock(&state.register_probe).as_ref() {
            let result = probe();
            lock(&state.probe_results).push(result);
        }
    }
    lock(&state.calls).push(call);
    state.call_seen.notify_waiters();

    if let Some((_, status, body)) = lock(&state.answers)
        .iter()
        .find(|(suffix, _, _)| path.ends_with(suffix.as_str()))
    {
        return json_response(*status, body.clone());
    }

    match (parts.method.clone(), path.as_str()) {
        (Method::GET, "/2018-06-01/runtime/invocation/next") => {
            state.next_calls.fetch_add(1, Ordering::SeqCst);
            let invocation = loop {
                let notified = state.invocation_ready.notified();
                if let Some(inv) = lock(&state.invocations).pop_front() {
                    break inv;
                }
                notified.await;
            };
            let mut resp = Response::builder().status(StatusCode::OK);
            for (k, v) in &invocation.headers {
                resp = resp.header(k.as_str(), v.as_str());
            }
            resp.body(Full::new(invocation.body))
                .expect("valid fake /next answer")
        }
        (Method::POST, p) if p.starts_with("/2018-06-01/runtime/") => {
            let streaming = parts
                .headers
                .get("lambda-runtime-function-response-mode")
                .is_some_and(|m| m == "streaming");
            let limit = if streaming {
                MAX_STREAMED_PAYLOAD
            } else {
                MAX_PAYLOAD
            };
            if body_len > limit {
                json_response(
                    413,
                    r#"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#,
                )
            } else {
                json_response(202, r#"{"status":"OK"}"#)
            }
        }
        (Method::POST, "/2020-01-01/extension/register") => Response::builder()
            .status(200)
            .header("Lambda-Extension-Identifier", "2d1c4ff3-6bd8-4d9a-9c4c-0e4c4f1e0a11")
            .header("Content-Type", "application/json")
            .body(Full::new(Bytes::from_static(
                br#"{"functionName":"example","functionVersion":"$LATEST","handler":"app.handler","accountId":"123456789012"}"#,
            )))
            .expect("valid register answer"),
        (Method::GET, "/2020-01-01/extension/event/next") => {
            let event = loop {
                let notified = state.extension_event_ready.notified();
                if let Some(e) = lock(&state.extension_events).pop_front() {
                    break e;
                }
                notified.await;
            };
            json_response(200, event)
        }
        (Method::POST, "/2020-01-01/extension/init/error") => json_response(202, r#"{"status":"OK"}"#),
        _ => json_response(
            404,
            r#"{"errorMessage":"Unknown path","errorType":"NotFound"}"#,
        ),
    }
}
