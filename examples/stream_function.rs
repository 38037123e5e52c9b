//! A Rust function on the `lambda_runtime` crate that streams its response, used by the proxy tests.
//!
//! Event: `{"chunks": N, "chunk_bytes": B, "delay_ms": D, "fail_after": K}`; it sends N chunks of B
//! bytes (`chunk NNNN` padded with dots), D ms apart, and if K is set fails the stream after K chunks,
//! which makes the runtime send `Lambda-Runtime-Function-Error-*` trailers.

use std::time::Duration;

use bytes::Bytes;
use lambda_runtime::streaming::Response;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

#[derive(Deserialize)]
struct Plan {
    chunks: usize,
    chunk_bytes: usize,
    delay_ms: u64,
    fail_after: Option<usize>,
}

type Chunks = ReceiverStream<Result<Bytes, std::io::Error>>;

/// The text of chunk `i`, `bytes` long.
fn chunk(i: usize, bytes: usize) -> Bytes {
    let mut text = format!("chunk {i:04}");
    text.truncate(bytes);
    while text.len() < bytes {
        text.push('.');
    }
    Bytes::from(text)
}

async fn handler(event: LambdaEvent<Plan>) -> Result<Response<Chunks>, Error> {
    let plan = event.payload;
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        for i in 0..plan.chunks {
            if plan.fail_after == Some(i) {
                let _ = tx
                    .send(Err(std::io::Error::other(format!(
                        "stream broke after {i} chunks"
                    ))))
                    .await;
                return;
            }
            if tx.send(Ok(chunk(i, plan.chunk_bytes))).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(plan.delay_ms)).await;
        }
    });
    Ok(Response::from(ReceiverStream::new(rx)))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
