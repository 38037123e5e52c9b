//! Export fault benchmark: what a failing collector costs the function. The real binary runs as
//! the extension of a Python function in the sandbox (frozen between invocations, as on Lambda),
//! exporting to a trace-view receiver switched between up, down (connection refused), refusing
//! (HTTP 503), throttling (HTTP 429 with `Retry-After: 2`), hanging and rejecting (HTTP 400). Per mode and binary: the hold (from the response to everyone back in
//! `/next`) p50/p99/max, lambda-lens CPU per 1000 invocations (utime + stime from /proc/<pid>/stat,
//! 10 ms ticks), the extension's log lines and the requests the receiver saw.
//!
//! Two binaries alternate within each mode and run: `LENS_OLD` (a build of an earlier commit, if
//! set) and this checkout's (or `LENS_NEW`). A measurement, not a test: the process exits 0. Run:
//! `LENS_OLD=/path/to/old/lambda-lens cargo bench --bench export_faults` (see benches/README.md).

use std::path::Path;
use std::time::Duration;

use lambda_lens_test_support::layer::build_layer;
use lambda_lens_test_support::sandbox::{extension_lines, process_dir, python_sandbox_config};
use lambda_sandbox::{Invocation, Sandbox, ShutdownReason};
use serde_json::json;
use trace_view::{Mode, ReceiverHandle};

use common::{current_thread_runtime, loadavg, start_receiver, summarize, us};

mod common;

/// Measured invocations per mode, binary and run.
const INVOCATIONS: usize = 200;
/// Runs; the figures are reported as ranges over them.
const RUNS: usize = 3;
/// The flush budget (`LAMBDA_LENS_FLUSH_TIMEOUT_MS`): bounds what a hanging collector can cost.
const FLUSH_TIMEOUT_MS: &str = "200";
/// Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

const MODES: [(&str, Mode); 6] = [
    ("up", Mode::Normal),
    ("down", Mode::Down),
    ("503", Mode::Refuse),
    ("429", Mode::Throttle),
    ("hanging", Mode::Hang),
    ("400", Mode::Reject),
];

/// What one binary did in one mode.
struct Figures {
    hold_p50_ms: f64,
    hold_p99_ms: f64,
    hold_max_ms: f64,
    cpu_ms_per_1000: f64,
    log_lines: usize,
    requests: usize,
}

/// CPU ticks (user + system) of the process whose command line contains `needle`.
fn cpu_ticks(needle: &str) -> u64 {
    let stat = std::fs::read_to_string(process_dir(needle).join("stat")).expect("stat readable");
    // Fields after the command name, which is in parentheses: state is field 3, utime 14.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat has a command name")
        .1
        .split_whitespace()
        .collect();
    let field = |n: usize| fields[n - 3].parse::<u64>().expect("a tick count");
    field(14) + field(15)
}

async fn measure(binary: &Path, label: &str, mode: Mode, receiver: &ReceiverHandle) -> Figures {
    receiver.set_mode(Mode::Normal).await.expect("receiver up");
    let opt = build_layer(binary, label);
    let extension = opt.join("extensions/lambda-lens");
    let extension = extension.to_string_lossy();
    let sandbox = Sandbox::start(
        python_sandbox_config(&opt)
            .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint())
            .with_env("LAMBDA_LENS_FLUSH_TIMEOUT_MS", FLUSH_TIMEOUT_MS),
    )
    .await
    .expect("sandbox starts");
    sandbox.invoke(Invocation::json(&json!({}))).await;
    receiver.set_mode(mode).await.expect("receiver mode");
    let (lines_before, requests_before) =
        (extension_lines(&sandbox).len(), receiver.requests().len());
    let ticks_before = cpu_ticks(&extension);
    let mut holds = Vec::with_capacity(INVOCATIONS);
    for _ in 0..INVOCATIONS {
        let out = sandbox.invoke(Invocation::json(&json!({"echo": 1}))).await;
        holds.push(out.duration.saturating_sub(out.response_time));
    }
    let ticks = cpu_ticks(&extension) - ticks_before;
    let summary = summarize(&mut holds);
    let figures = Figures {
        hold_p50_ms: us(summary.p50) / 1e3,
        hold_p99_ms: us(summary.p99) / 1e3,
        hold_max_ms: us(summary.max) / 1e3,
        cpu_ms_per_1000: ticks as f64 / TICKS_PER_SECOND * 1e3 * 1000.0 / INVOCATIONS as f64,
        log_lines: extension_lines(&sandbox).len() - lines_before,
        requests: receiver.requests().len() - requests_before,
    };
    receiver.set_mode(Mode::Normal).await.expect("receiver up");
    sandbox.shutdown(ShutdownReason::Spindown).await;
    let _ = std::fs::remove_dir_all(&opt);
    figures
}

fn main() {
    // The binaries measured need not be built with the bench's profile.
    let new =
        std::env::var("LENS_NEW").unwrap_or_else(|_| env!("CARGO_BIN_EXE_lambda-lens").to_owned());
    let mut binaries = vec![("new", new)];
    if let Ok(old) = std::env::var("LENS_OLD") {
        binaries.insert(0, ("old", old));
    }
    let receiver = start_receiver();
    let runtime = current_thread_runtime();
    println!("export_faults: {INVOCATIONS} invocations per mode, binary and run; flush budget {FLUSH_TIMEOUT_MS} ms");
    println!("run | mode | binary | hold p50 ms | hold p99 ms | hold max ms | CPU ms / 1000 inv | log lines | requests | load");
    for run in 1..=RUNS {
        for (name, mode) in MODES {
            // Alternate which binary goes first, so drift in machine load hits both alike.
            let mut order = binaries.clone();
            if run % 2 == 0 {
                order.reverse();
            }
            for (binary_name, binary) in &order {
                let label = format!("faults-{run}-{name}-{binary_name}");
                let figures = runtime.block_on(measure(Path::new(binary), &label, mode, &receiver));
                println!(
                    "{run} | {name} | {binary_name} | {:.1} | {:.1} | {:.1} | {:.0} | {} | {} | {}",
                    figures.hold_p50_ms,
                    figures.hold_p99_ms,
                    figures.hold_max_ms,
                    figures.cpu_ms_per_1000,
                    figures.log_lines,
                    figures.requests,
                    loadavg()
                );
                // A hung request may still be open at the receiver: let it go before the next.
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}
