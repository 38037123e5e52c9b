//! The extension's own logs: `tracing` to stderr (Lambda sends it to CloudWatch), plain text, filtered
//! by `LAMBDA_LENS_LOG` (`info` by default; `debug`, or per-target `lambda_lens=debug,hyper=info`).
//! These logs never become spans: no OpenTelemetry layer is attached to this subscriber.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// Target of the per-record JSON lines (payload bytes included).
pub const RECORD_TARGET: &str = "lambda_lens::record";

static RECORDS_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether `LAMBDA_LENS_LOG` names [`RECORD_TARGET`] explicitly. Records carry unredacted payload
/// bytes, so a bare `debug` must not print them into CloudWatch.
pub fn records_requested() -> bool {
    RECORDS_REQUESTED.load(Ordering::Relaxed)
}

/// Installs the subscriber. Returns a warning to log when `LAMBDA_LENS_LOG` was unusable.
pub fn init() -> Option<String> {
    if let Ok(raw) = std::env::var("LAMBDA_LENS_LOG") {
        RECORDS_REQUESTED.store(raw.contains(RECORD_TARGET), Ordering::Relaxed);
    }
    let default = Targets::new().with_default(LevelFilter::INFO);
    let (filter, warning) = match std::env::var("LAMBDA_LENS_LOG") {
        Ok(raw) if !raw.trim().is_empty() => match raw.parse::<Targets>() {
            Ok(filter) => (filter, None),
            Err(e) => (
                default,
                Some(format!("LAMBDA_LENS_LOG={raw:?} ignored ({e}); using info")),
            ),
        },
        _ => (default, None),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time();
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(filter)
        .try_init();
    warning
}
