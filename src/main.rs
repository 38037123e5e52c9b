//! The `lambda-lens` extension binary: wiring only.

use std::process::ExitCode;

use lambda_lens::settings::Settings;
use lambda_lens::{app, logging};

fn main() -> ExitCode {
    // Settings are read first (purely), so that logging starts with its own setting and every
    // warning, and a fatal error, goes through it.
    let loaded = Settings::from_env();
    logging::init(&loaded.logging);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let settings = match loaded.settings {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // One thread is plenty for an extension and keeps its footprint small.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime must start");
    // The main loop runs as a task, not as the `block_on` future itself: tokio polls the I/O
    // driver once more (a system call) every time its `block_on` future is woken, which the loop
    // is twice per invocation by the other tasks (the event poll's connection, the owner's reply).
    let status = runtime.block_on(async {
        tokio::spawn(app::run(settings)).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "the main loop failed");
            1
        })
    });
    // Connection tasks may still be parked; do not wait for them.
    runtime.shutdown_background();
    ExitCode::from(status)
}
