//! The HTTP listener the platform delivers telemetry batches to.
//!
//! The extension is subscribed to its own logs (`extension` type), so nothing here logs per batch:
//! each line would come back in the next batch and feed itself. Problems are counted instead (see
//! [`dropped_events`], [`oversize_batches`], [`skipped_elements`]) and announced once, on their first
//! occurrence in the process.

use std::convert::Infallible;
use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::events::{parse_batch, TelemetryEvent};
use crate::net;
use crate::platform_http::{error_chain, ApiBody};

/// Bounded queue of events to the owner task: try_send, never block the listener; count drops.
pub const TELEMETRY_QUEUE_CAPACITY: usize = 4096;

/// Largest batch read. The platform sends at most `2 * maxBytes + metadata` (about 0.5 MiB with the
/// subscription's 256 KiB); anything larger is answered 413 and counted.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop neither spins nor floods
/// the extension's own log stream, which this listener receives.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

static DROPPED_EVENTS: AtomicU64 = AtomicU64::new(0);
static OVERSIZE_BATCHES: AtomicU64 = AtomicU64::new(0);
static SKIPPED_ELEMENTS: AtomicU64 = AtomicU64::new(0);

/// Events this process dropped because the queue to the owner task was full (or closed).
pub fn dropped_events() -> u64 {
    DROPPED_EVENTS.load(Ordering::Relaxed)
}

/// Deliveries this process refused with 413 because their body exceeded [`MAX_BATCH_BYTES`].
pub fn oversize_batches() -> u64 {
    OVERSIZE_BATCHES.load(Ordering::Relaxed)
}

/// Batch elements this process could not understand (and bodies that were not JSON arrays).
pub fn skipped_elements() -> u64 {
    SKIPPED_ELEMENTS.load(Ordering::Relaxed)
}

/// Adds `n` to `counter`; the first time anything is counted, logs `what` at WARN.
fn count(counter: &AtomicU64, n: u64, what: &str) {
    if counter.fetch_add(n, Ordering::Relaxed) == 0 {
        tracing::warn!("{what}; further occurrences are only counted");
    }
}

/// Binds the listener on 0.0.0.0:`port` (the platform posts to sandbox.localdomain, which must
/// not be assumed to be loopback); port 0 = ephemeral; a busy port falls back to an ephemeral one
/// with one WARN line.
pub async fn bind_listener(port: u16) -> io::Result<TcpListener> {
    // The subscription names the port actually bound, so any free port works.
    net::bind_with_fallback(Ipv4Addr::UNSPECIFIED, port, "telemetry").await
}

/// Serves deliveries forever: answers 200 right away (after reading the body, bounded at
/// [`MAX_BATCH_BYTES`]: larger → 413 and counted), parses, sends each event on `sink` (try_send,
/// drops counted in [`dropped_events`]). Never logs per batch at info (the extension is subscribed
/// to its own logs: logging per batch would feed itself); one WARN on the first drop.
///
/// A batch is parsed and queued before its answer is written: parsing takes well under a
/// millisecond for a 256 KiB batch, and doing it in line keeps events in delivery order, which a
/// task per batch would not.
pub async fn serve(listener: TcpListener, sink: mpsc::Sender<TelemetryEvent>) {
    let builder = http1::Builder::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "telemetry listener accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let sink = sink.clone();
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            service_fn(move |req| {
                let sink = sink.clone();
                async move { Ok::<_, Infallible>(deliver(req, &sink).await) }
            }),
        );
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %error_chain(&e), "telemetry connection ended with an error");
            }
        });
    }
}

/// Handles one POST from the platform.
async fn deliver(req: Request<Incoming>, sink: &mpsc::Sender<TelemetryEvent>) -> Response<ApiBody> {
    if req.method() != Method::POST {
        return answer(StatusCode::METHOD_NOT_ALLOWED);
    }
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = match read_bounded(req.into_body(), announced).await {
        Ok(Some(body)) => body,
        Ok(None) => {
            count(
                &OVERSIZE_BATCHES,
                1,
                "a telemetry batch exceeded 4 MiB and was refused with 413",
            );
            return answer(StatusCode::PAYLOAD_TOO_LARGE);
        }
        // The platform went away mid-body; it retries, nobody reads this answer.
        Err(_) => return answer(StatusCode::BAD_REQUEST),
    };
    let (events, skipped) = parse_batch(&body);
    if skipped > 0 {
        count(
            &SKIPPED_ELEMENTS,
            skipped as u64,
            "a telemetry batch held elements lambda-lens does not understand; they were skipped",
        );
    }
    let mut dropped = 0;
    for event in events {
        if sink.try_send(event).is_err() {
            dropped += 1;
        }
    }
    if dropped > 0 {
        count(
            &DROPPED_EVENTS,
            dropped,
            "the telemetry queue is full; events are being dropped",
        );
    }
    answer(StatusCode::OK)
}

/// Reads the whole body; `Ok(None)` when it exceeds [`MAX_BATCH_BYTES`]. An oversize body is still
/// read to its end (and discarded) so the platform gets the 413 instead of a reset connection.
async fn read_bounded(
    mut body: Incoming,
    announced: Option<u64>,
) -> Result<Option<Bytes>, hyper::Error> {
    let mut oversize = announced.is_some_and(|len| len > MAX_BATCH_BYTES as u64);
    let mut read = Bytes::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        if oversize || read.len() + data.len() > MAX_BATCH_BYTES {
            oversize = true;
            read = Bytes::new();
        } else if read.is_empty() {
            // A batch usually arrives in one frame: it is kept as it came, without a copy.
            read = data;
        } else {
            // Copies the first frame once; later frames append to the (then unique) buffer.
            let mut joined = BytesMut::from(std::mem::take(&mut read));
            joined.extend_from_slice(&data);
            read = joined.freeze();
        }
    }
    Ok((!oversize).then_some(read))
}

fn answer(status: StatusCode) -> Response<ApiBody> {
    let mut resp = Response::new(ApiBody::empty());
    *resp.status_mut() = status;
    resp
}
