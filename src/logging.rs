//! The extension's own logs: `tracing` to stderr (Lambda sends it to CloudWatch), plain text, filtered
//! as [`LogSettings`] say (`LAMBDA_LENS_LOG`: `info` by default; `debug`, or per-target
//! `lambda_lens=debug,hyper=info`). These logs never become spans: no OpenTelemetry layer is attached
//! to this subscriber.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::prelude::*;

use crate::settings::LogSettings;

/// Target of the per-record JSON lines (payload bytes included).
pub const RECORD_TARGET: &str = "lambda_lens::record";

static RECORDS_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether the log filter names [`RECORD_TARGET`] explicitly. Records carry unredacted payload
/// bytes, so a bare `debug` must not print them into CloudWatch.
pub fn records_requested() -> bool {
    RECORDS_REQUESTED.load(Ordering::Relaxed)
}

/// Installs the subscriber.
pub fn init(settings: &LogSettings) {
    RECORDS_REQUESTED.store(settings.records, Ordering::Relaxed);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time();
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(settings.filter.clone())
        .try_init();
}
