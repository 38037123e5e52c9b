//! Profile mode of the round-trip bench: instead of timing, each lambda-lens binary runs under a
//! tool twice per export mode, with `SHORT` and `LONG` 1 KiB round trips after the same warm-up;
//! the difference of the two totals over the difference of the counts is the tool's figure per
//! round trip, free of start-up, shutdown and machine load.
//!
//! - `PROXY_ROUNDTRIP_CALLGRIND=<dir>`: `valgrind --tool=callgrind`, instructions per round trip;
//! - `PROXY_ROUNDTRIP_STRACE=<dir>`: `strace -c -f`, system calls per round trip (every thread).
//!
//! The profiles stay in `<dir>` (`callgrind.<binary>.<export>.<count>`, `strace.…`) for
//! `callgrind_annotate`.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{
    bench_client, common, json_body, round_trip, Export, Extension, Fake, KIB, MANAGED_INSTANCES,
};

/// Round trips of the short and the long run.
const SHORT: usize = 100;
const LONG: usize = 400;
/// Unmeasured round trips first in both runs: connections, pools and allocators settle.
const WARMUP: usize = 50;

/// The tool a profile run wraps lambda-lens in.
#[derive(Clone, Copy)]
pub(super) enum Tool {
    Callgrind,
    Strace,
}

impl Tool {
    /// The tool the environment asks for, and where its profiles go.
    pub(super) fn from_env() -> Option<(Self, PathBuf)> {
        let from = |var: &str| std::env::var_os(var).map(PathBuf::from);
        from("PROXY_ROUNDTRIP_CALLGRIND")
            .map(|dir| (Tool::Callgrind, dir))
            .or_else(|| from("PROXY_ROUNDTRIP_STRACE").map(|dir| (Tool::Strace, dir)))
    }

    fn name(self) -> &'static str {
        match self {
            Tool::Callgrind => "callgrind",
            Tool::Strace => "strace",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Tool::Callgrind => "instructions",
            Tool::Strace => "system calls",
        }
    }

    /// The command line that runs `binary` writing its profile to `out`.
    fn command(self, binary: &Path, out: &Path) -> String {
        match self {
            Tool::Callgrind => format!(
                "valgrind --tool=callgrind --callgrind-out-file={} {}",
                out.display(),
                binary.display()
            ),
            Tool::Strace => format!("strace -c -f -o {} {}", out.display(), binary.display()),
        }
    }

    /// The total a profile states: callgrind's `totals:` or strace's calls in its `total` line.
    fn total(self, out: &Path) -> u64 {
        let text =
            std::fs::read_to_string(out).unwrap_or_else(|e| panic!("read {}: {e}", out.display()));
        let found = match self {
            Tool::Callgrind => text
                .lines()
                .find_map(|l| l.strip_prefix("totals:").or(l.strip_prefix("summary:")))
                .and_then(|v| v.trim().parse().ok()),
            // `100.00 secs usecs/call calls [errors] total`: calls is the fourth column.
            Tool::Strace => text
                .lines()
                .find(|l| l.trim_end().ends_with("total"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse().ok()),
        };
        found.unwrap_or_else(|| panic!("no total in {}", out.display()))
    }
}

/// Runs every binary in both export modes under `tool` and prints its figure per round trip.
pub(super) fn run(tool: Tool, dir: &Path, binaries: &[(&str, &Path)], fake: &Fake, endpoint: &str) {
    std::fs::create_dir_all(dir).expect("profile output dir");
    let rt = common::current_thread_runtime();
    let client = bench_client();
    let result = json_body(KIB);
    let mut n = 0;
    for &(label, binary) in binaries {
        for (export_label, export) in [("off", Export::Off), ("on", Export::To(endpoint))] {
            let mut totals = Vec::new();
            for count in [SHORT, LONG] {
                let stem = format!("{}.{label}.export-{export_label}.{count}", tool.name());
                let out = dir.join(&stem);
                let script = dir.join(format!("{stem}.sh"));
                write_script(&script, &tool.command(binary, &out));
                let lens = Extension::start(fake, &script, dir, n, export);
                n += 1;
                rt.block_on(round_trips(&client, lens.proxy, &result, WARMUP + count));
                lens.stop(fake);
                totals.push(tool.total(&out));
            }
            let per_round_trip = (totals[1] as f64 - totals[0] as f64) / (LONG - SHORT) as f64;
            let managed = match export {
                Export::Off => String::new(),
                Export::To(_) => format!(", {MANAGED_INSTANCES}"),
            };
            println!(
                "{label} export-{export_label}{managed}: {per_round_trip:.1} {} per 1 KiB round trip \
                 ({} − {} over {LONG} − {SHORT}; profiles in {})",
                tool.unit(),
                totals[1],
                totals[0],
                dir.display()
            );
        }
    }
}

async fn round_trips(
    client: &super::BenchClient,
    target: std::net::SocketAddr,
    result: &Bytes,
    n: usize,
) {
    for _ in 0..n {
        round_trip(client, target, result).await;
    }
}

/// A script that execs `command`, so that the process the bench starts is the one profiled.
fn write_script(script: &Path, command: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(script, format!("#!/bin/sh\nexec {command}\n")).expect("write the script");
    std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o755))
        .expect("make the script executable");
}
