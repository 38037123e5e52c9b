//! Hold benchmark: how long lambda-lens keeps a warm, successful invocation open after its response
//! — from the response's end to the moment every extension is back in `/extension/event/next`, the
//! time the function is billed for and its environment cannot take the next event.
//!
//! The real extension binary runs as a layer in the local sandbox (its Telemetry API buffers 25 ms,
//! as Lambda's minimum), in front of the Python example function under `awslambdaric`, exporting to
//! a local OTLP receiver. The sandbox measures both ends: `InvokeOutcome::response_time` (response
//! complete) and `duration` (runtime and extensions back in `/next`). Two binaries are measured in
//! the same run, alternated: `HOLD_BASE_BIN` (the binary before this change) and `HOLD_NEW_BIN`
//! (default: this build's), and the function without any layer (`none`: the floor the runtime and
//! the sandbox set on their own). `benches/README.md` records the figures.

use std::path::PathBuf;
use std::time::Duration;

use lambda_lens_test_support::layer::build_layer;
use lambda_lens_test_support::sandbox::{python_function_config, python_sandbox_config};
use lambda_sandbox::{FreezeMode, Invocation, Sandbox, ShutdownReason, Status};
use serde_json::json;
use trace_view::{Receiver, ReceiverConfig};

/// Warm invocations per binary per run.
const WARM_INVOCATIONS: usize = 200;
/// Runs, each measuring both binaries one after the other.
const RUNS: usize = 3;

/// The holds of `WARM_INVOCATIONS` warm successes through `binary` (none: no layer), sorted.
async fn holds(binary: Option<&PathBuf>, name: &str) -> Vec<Duration> {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("OTLP receiver starts");
    let opt = binary.map(|binary| build_layer(binary, name));
    let mut config = match &opt {
        Some(opt) => python_sandbox_config(opt),
        None => python_function_config().with_freeze(FreezeMode::Signals),
    }
    .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint());
    // HOLD_ENV="K=V,K=V": extra settings for both binaries (e.g. OTEL_SDK_DISABLED=true, to see the
    // hold without any export).
    for pair in std::env::var("HOLD_ENV").unwrap_or_default().split(',') {
        if let Some((key, value)) = pair.split_once('=') {
            config = config.with_env(key, value);
        }
    }
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let cold = sandbox
        .invoke(Invocation::json(&json!({"n": "cold"})))
        .await;
    assert_eq!(cold.status, Status::Success);
    let mut holds = Vec::with_capacity(WARM_INVOCATIONS);
    for n in 0..WARM_INVOCATIONS {
        let out = sandbox.invoke(Invocation::json(&json!({ "n": n }))).await;
        assert_eq!(out.status, Status::Success);
        holds.push(out.duration.saturating_sub(out.response_time));
    }
    sandbox.shutdown(ShutdownReason::Spindown).await;
    if let Some(opt) = opt {
        let _ = std::fs::remove_dir_all(opt);
    }
    holds.sort();
    holds
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let base = std::env::var_os("HOLD_BASE_BIN").map(PathBuf::from);
    let new = std::env::var_os("HOLD_NEW_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_lambda-lens")),
        PathBuf::from,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut binaries = vec![("none", None), ("new", Some(new))];
    if let Some(base) = base {
        binaries.insert(1, ("base", Some(base)));
    }
    println!("hold after warm successes, response end → extensions back in /next ({WARM_INVOCATIONS} per binary per run)");
    for run in 1..=RUNS {
        for (label, binary) in &binaries {
            let holds = runtime.block_on(holds(binary.as_ref(), &format!("hold-{label}-{run}")));
            println!(
                "run {run} {label:>4}: p50 {:7.3} ms  p99 {:7.3} ms  max {:7.3} ms",
                ms(percentile(&holds, 0.50)),
                ms(percentile(&holds, 0.99)),
                ms(percentile(&holds, 1.0)),
            );
        }
    }
}
