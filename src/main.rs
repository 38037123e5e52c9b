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
    let status = runtime.block_on(app::run(settings));
    // Connection tasks may still be parked; do not wait for them.
    runtime.shutdown_background();
    ExitCode::from(status)
}
