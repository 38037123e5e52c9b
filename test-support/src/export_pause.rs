//! Waiting out an exporter's pause after a timeout in a background flush.

use std::time::SystemTime;

use lambda_lens::export::{Exporter, TIMEOUT_PAUSE};

/// Waits for the end of the pause after a request timed out in a background flush, which must
/// hold `exporter` back now and for at most [`TIMEOUT_PAUSE`].
pub async fn wait_for_the_pause(exporter: &Exporter) {
    let now = SystemTime::now();
    let until = exporter
        .blocked_until(now)
        .expect("held back by the pause after a timeout");
    assert!(until <= now + TIMEOUT_PAUSE, "{until:?}");
    tokio::time::sleep(until.duration_since(now).unwrap_or_default()).await;
}
