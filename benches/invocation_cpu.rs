//! CPU per invocation benchmark: what lambda-lens itself spends on one warm invocation on the
//! on-demand path — the INVOKE event, the proxy's two exchanges, the Telemetry API batch, span
//! building, encoding and one export request to a local collector.
//!
//! The real extension binary runs as a layer in the local sandbox (Telemetry API on, real freezing)
//! in front of the Python example function under `awslambdaric`, exporting over OTLP/HTTP to a local
//! trace-view receiver. The extension's user + system time is read from `/proc/<pid>/stat` before and
//! after `INVOCATIONS` warm invocations, and its `VmHWM` at the end. Two binaries are measured in the
//! same run, alternated: `INVOCATION_CPU_BASE_BIN` (optional, the binary before a change) and
//! `INVOCATION_CPU_NEW_BIN` (default: this build's), with the floor extension first in every run;
//! the bench ends with each one's range over the runs and its distance from the floor.
//!
//! With `INVOCATION_CPU_CALLGRIND=<dir>` each binary instead runs under `valgrind --tool=callgrind`
//! twice, with `CALLGRIND_SHORT` and `CALLGRIND_LONG` warm invocations; the difference of the two
//! instruction totals over the difference of the counts is the instructions per invocation, free of
//! start-up and of machine load. The profiles stay in `<dir>` for `callgrind_annotate`.

use std::path::{Path, PathBuf};
use std::time::Duration;

mod floor_extension;

use lambda_lens_test_support::layer::build_layer;
use lambda_lens_test_support::sandbox::python_sandbox_config;
use lambda_sandbox::{Invocation, Sandbox, ShutdownReason, Status};
use serde_json::json;
use trace_view::{Receiver, ReceiverConfig};

/// Warm invocations measured per binary per run.
const INVOCATIONS: usize = 1000;
/// Warm invocations first, unmeasured: connections, pools and allocators settle.
const WARMUP: usize = 50;
/// Runs, each measuring every binary once (`INVOCATION_CPU_RUNS` sets another count): a run is
/// 1–2 s per binary, and one figure is only good to a 10 ms tick per 1000 invocations, so the
/// summary reads ranges over many runs.
const RUNS: usize = 9;
/// Warm invocations of the short and the long callgrind run.
const CALLGRIND_SHORT: usize = 100;
const CALLGRIND_LONG: usize = 400;
/// The function's timeout under callgrind, which runs the extension about 50 times slower.
const CALLGRIND_TIMEOUT: Duration = Duration::from_secs(30);

/// What one sandbox session with one binary measured.
struct Session {
    cpu: Cpu,
    peak_rss_kib: u64,
    spans: usize,
}

/// The pid of the extension the sandbox (this process) started for the layer at `opt`, or for
/// `binary` when valgrind runs it.
fn extension_pid(opt: &Path, binary: &Path) -> u32 {
    let me = std::process::id();
    let wanted = [
        opt.join("extensions/lambda-lens")
            .to_string_lossy()
            .into_owned(),
        binary.to_string_lossy().into_owned(),
    ];
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = &stat[stat.rfind(')')? + 2..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                });
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            parent == Some(me)
                && cmdline
                    .split(|b| *b == 0)
                    .any(|arg| wanted.iter().any(|w| arg == w.as_bytes()))
        })
        .expect("the extension runs as a child of the bench")
}

/// CPU time of a whole process (all threads), in user space and in the kernel, and its minor page
/// faults (each one kernel time: a page the process touched for the first time, or again after
/// giving it back).
#[derive(Clone, Copy)]
struct Cpu {
    user: Duration,
    system: Duration,
    minor_faults: u64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;

    fn sub(self, earlier: Cpu) -> Cpu {
        Cpu {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
            minor_faults: self.minor_faults - earlier.minor_faults,
        }
    }
}

fn process_cpu(pid: u32) -> Cpu {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/pid/stat");
    // minflt, utime and stime are the 8th, 12th and 13th fields after the parenthesised command
    // name.
    let rest = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(7)
        .take(6)
        .map(|f| f.parse::<u64>().expect("numeric minflt/utime/stime"))
        .collect();
    let ticks = &fields[4..];
    // SAFETY: sysconf only reads a configuration value.
    let per_second = match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        n if n > 0 => n as u64,
        _ => 100,
    };
    let time = |ticks: u64| Duration::from_nanos(ticks * 1_000_000_000 / per_second);
    Cpu {
        user: time(ticks[0]),
        system: time(ticks[1]),
        minor_faults: fields[0],
    }
}

/// `VmHWM` (peak RSS) of a process in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("read /proc/pid/status")
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/pid/status")
}

/// One sandbox session: a cold invocation, `WARMUP` + `invocations` warm ones through the layer
/// holding `extension` (the binary, or a script that runs it), measuring the last `invocations`.
async fn session(extension: &Path, binary: &Path, name: &str, invocations: usize) -> Session {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("OTLP receiver starts");
    let opt = build_layer(extension, name);
    let mut config = python_sandbox_config(&opt)
        .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint());
    if extension != binary {
        config = config.with_timeout(CALLGRIND_TIMEOUT);
    }
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let invoke = |n: usize| {
        let sandbox = &sandbox;
        async move {
            let out = sandbox.invoke(Invocation::json(&json!({ "n": n }))).await;
            assert_eq!(out.status, Status::Success, "invocation {n}");
        }
    };
    invoke(0).await;
    for n in 0..WARMUP {
        invoke(n).await;
    }
    let pid = extension_pid(&opt, binary);
    let before = process_cpu(pid);
    for n in 0..invocations {
        invoke(n).await;
    }
    let cpu = process_cpu(pid) - before;
    let peak_rss_kib = peak_rss_kib(pid);
    sandbox.shutdown(ShutdownReason::Spindown).await;
    let spans = receiver.spans().len();
    let _ = std::fs::remove_dir_all(&opt);
    Session {
        cpu,
        peak_rss_kib,
        spans,
    }
}

/// The `totals:` (or `summary:`) instruction count of a callgrind profile.
fn callgrind_total(profile: &Path) -> u64 {
    let text = std::fs::read_to_string(profile)
        .unwrap_or_else(|e| panic!("read {}: {e}", profile.display()));
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("a callgrind total")
}

/// A script that runs `binary` under callgrind, writing its profile to `profile`.
fn callgrind_script(binary: &Path, profile: &Path, script: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let text = format!(
        "#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file={} {}\n",
        profile.display(),
        binary.display()
    );
    std::fs::write(script, text).expect("write the callgrind script");
    std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o755))
        .expect("make the callgrind script executable");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A script that runs this bench binary as the floor extension (`floor_extension`); the script's
/// own path is passed on so that the extension's command line names it.
fn floor_script(script: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let me = std::env::current_exe().expect("the bench binary's path");
    let text = format!(
        "#!/bin/sh\nexec {} {} {}\n",
        me.display(),
        floor_extension::FLAG,
        script.display()
    );
    std::fs::write(script, text).expect("write the floor script");
    std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o755))
        .expect("make the floor script executable");
}

fn main() {
    if std::env::args().any(|a| a == floor_extension::FLAG) {
        floor_extension::run();
        return;
    }
    let mut binaries = vec![(
        "new",
        std::env::var_os("INVOCATION_CPU_NEW_BIN").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_lambda-lens")),
            PathBuf::from,
        ),
    )];
    if let Some(base) = std::env::var_os("INVOCATION_CPU_BASE_BIN") {
        binaries.insert(0, ("base", PathBuf::from(base)));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load().trim());

    if let Some(dir) = std::env::var_os("INVOCATION_CPU_CALLGRIND").map(PathBuf::from) {
        std::fs::create_dir_all(&dir).expect("callgrind output dir");
        for (label, binary) in &binaries {
            let mut totals = Vec::new();
            for invocations in [CALLGRIND_SHORT, CALLGRIND_LONG] {
                let profile = dir.join(format!("callgrind.{label}.{invocations}"));
                let script = dir.join(format!("{label}-{invocations}.sh"));
                callgrind_script(binary, &profile, &script);
                let name = format!("cg-{label}-{invocations}");
                runtime.block_on(session(&script, binary, &name, invocations));
                totals.push(callgrind_total(&profile));
            }
            let per_invocation =
                (totals[1] - totals[0]) as f64 / (CALLGRIND_LONG - CALLGRIND_SHORT) as f64;
            println!(
                "{label:>5}: {per_invocation:.0} instructions per warm invocation \
                 ({} − {} over {} − {} invocations; profiles in {})",
                totals[1],
                totals[0],
                CALLGRIND_LONG,
                CALLGRIND_SHORT,
                dir.display()
            );
        }
        return;
    }

    // The floor: the same exchanges with nothing else done (see `floor_extension`), measured in the
    // same runs so that every binary is read against it.
    let floor =
        std::env::temp_dir().join(format!("invocation-cpu-floor-{}.sh", std::process::id()));
    floor_script(&floor);
    binaries.insert(0, ("floor", floor.clone()));
    let runs = std::env::var("INVOCATION_CPU_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .filter(|runs| *runs > 0)
        .unwrap_or(RUNS);
    // Per binary, per run: (total, user) in ms per 1000 invocations, for the summary.
    let mut figures: Vec<Vec<(f64, f64)>> = vec![Vec::new(); binaries.len()];
    println!("extension CPU (user+system) per {INVOCATIONS} warm invocations, export on");
    for run in 1..=runs {
        for ((label, binary), figures) in binaries.iter().zip(&mut figures) {
            let name = format!("cpu-{label}-{run}");
            let s = runtime.block_on(session(binary, binary, &name, INVOCATIONS));
            let per_1000 = |d: Duration| ms(d) * 1000.0 / INVOCATIONS as f64;
            figures.push((per_1000(s.cpu.user + s.cpu.system), per_1000(s.cpu.user)));
            println!(
                "run {run} {label:>5}: {:6.1} ms per 1000 invocations (user {:.1}, system {:.1}), \
                 {:.2} minor faults per invocation, peak RSS {:.2} MiB, {} spans received",
                per_1000(s.cpu.user + s.cpu.system),
                per_1000(s.cpu.user),
                per_1000(s.cpu.system),
                s.cpu.minor_faults as f64 / INVOCATIONS as f64,
                s.peak_rss_kib as f64 / 1024.0,
                s.spans
            );
        }
    }
    let _ = std::fs::remove_file(&floor);
    summary(&binaries, &figures);
    println!("load average at end: {}", load().trim());
}

/// Min / median / max over the runs of each binary's total and user time, and of its total less
/// the floor's of the same run (the first binary is the floor).
fn summary(binaries: &[(&str, PathBuf)], figures: &[Vec<(f64, f64)>]) {
    let range = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        let median = if values.len() % 2 == 1 {
            values[values.len() / 2]
        } else {
            (values[values.len() / 2 - 1] + values[values.len() / 2]) / 2.0
        };
        format!(
            "{:.0} / {:.0} / {:.0}",
            values[0],
            median,
            values[values.len() - 1]
        )
    };
    let runs = figures[0].len();
    println!("summary over {runs} runs, ms per 1000 warm invocations, min / median / max:");
    for (index, ((label, _), own)) in binaries.iter().zip(figures).enumerate() {
        let above_floor = own
            .iter()
            .zip(&figures[0])
            .map(|(own, floor)| own.0 - floor.0)
            .collect();
        println!(
            "{label:>5}: total {}, user {}{}",
            range(own.iter().map(|f| f.0).collect()),
            range(own.iter().map(|f| f.1).collect()),
            if index == 0 {
                String::new()
            } else {
                format!(", above the floor {}", range(above_floor))
            }
        );
    }
}
