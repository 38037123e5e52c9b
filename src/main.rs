//! The `lambda-lens` extension binary: wiring only.

use std::process::ExitCode;

use lambda_lens::config::Config;
use lambda_lens::{app, logging};

fn main() -> ExitCode {
    if let Some(warning) = logging::init() {
        tracing::warn!("{warning}");
    }
    let (config, warnings) = match Config::from_env() {
        Ok(parsed) => parsed,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    // One thread is plenty for an extension and keeps its footprint small.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime must start");
    let status = runtime.block_on(app::run(config));
    // Connection tasks may still be parked; do not wait for them.
    runtime.shutdown_background();
    ExitCode::from(status)
}
