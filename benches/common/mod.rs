//! Helpers shared by the bench targets (`proxy_roundtrip`, `flush_latency`): runtimes on their own
//! threads, the in-bench OTLP receiver, nearest-rank percentiles and the load average.
//!
//! Each bench includes this with `mod common;`, so everything here must be used by both: an item
//! one of them leaves unused would be dead code there.

use std::future::Future;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tokio::runtime::Runtime;
use trace_view::{Receiver, ReceiverConfig, ReceiverHandle};

/// A single-threaded runtime, the flavour lambda-lens itself runs on.
pub fn current_thread_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `task` on its own OS thread and single-threaded runtime, so it never competes with the
/// measuring thread's runtime for a scheduler.
pub fn spawn_runtime_thread(name: &str, task: impl Future<Output = ()> + Send + 'static) {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || current_thread_runtime().block_on(task))
        .expect("spawn thread");
}

/// A trace-view OTLP receiver (HTTP and gRPC on loopback) served by its own thread, standing in for
/// the collector. The runtime keeps running for the life of the bench; dropping the returned
/// handle stops the receiver.
pub fn start_receiver() -> ReceiverHandle {
    let (handle_tx, handle_rx) = mpsc::channel();
    spawn_runtime_thread("otlp-receiver", async move {
        // Receiver::start spawns its accept loops on the current runtime, so it must be called here.
        let receiver = Receiver::start(ReceiverConfig::default()).expect("receiver binds loopback");
        handle_tx
            .send(receiver)
            .expect("bench waits for the receiver");
        std::future::pending::<()>().await;
    });
    handle_rx.recv().expect("receiver started")
}

pub struct Summary {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// Nearest-rank percentiles.
pub fn summarize(samples: &mut [Duration]) -> Summary {
    samples.sort_unstable();
    let rank = |p: f64| samples[((p * samples.len() as f64).ceil() as usize).max(1) - 1];
    Summary {
        p50: rank(0.50),
        p99: rank(0.99),
        max: samples[samples.len() - 1],
    }
}

pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The 1, 5 and 15 minute load averages, printed with each run: on a shared machine they say
/// how much the figures may be disturbed.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
