//! Child processes: environment construction (runtime vs. filtered extension env), launching in
//! their own process groups, capturing output as telemetry, signals, and RSS measurement from /proc.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use crate::clock::{date_path, iso8601_ms};
use crate::core::{Core, PlatformError, ProcessExit, ProcessRole, ProcessSlot};
use crate::ids::random_hex;
use crate::model::{LogFormat, Status};
use crate::telemetry::Category;

/// How often the runtime's memory is sampled for `maxMemoryUsedMB` and the OOM limit.
const RSS_SAMPLE_INTERVAL: Duration = Duration::from_millis(10);

/// How often a launch is tried again while its executable is busy, and how long apart. A file just
/// written (a layer copied by a test) may for an instant still be open for writing in a child that
/// another thread of the same process forked and has not yet exec'd; Linux then refuses to run it
/// (`ETXTBSY`). On Lambda the layer is on a read-only file system and this cannot happen.
const BUSY_LAUNCH_RETRIES: u32 = 100;
const BUSY_LAUNCH_PAUSE: Duration = Duration::from_millis(2);

/// Host variables kept so commands resolve and behave (Lambda defines its own PATH and LANG).
const HOST_VARS: [&str; 4] = ["PATH", "HOME", "LANG", "TMPDIR"];

/// Keys Lambda withholds from extensions besides every `_`-prefixed key.
const EXTENSION_HIDDEN: [&str; 7] = [
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
];

/// A new log stream name (`YYYY/MM/DD/[$LATEST]<32 hex>`), which is also the `instanceId`.
pub(crate) fn new_instance_id(version: &str) -> String {
    format!(
        "{}/[{version}]{}",
        date_path(SystemTime::now()),
        random_hex(16)
    )
}

/// The runtime's environment: host basics, customer env, then the platform's reserved variables.
pub(crate) fn runtime_env(core: &Core, instance_id: &str) -> BTreeMap<String, String> {
    let cfg = &core.config;
    let mut env: BTreeMap<String, String> = HOST_VARS
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
        .collect();
    env.insert("TZ".into(), ":UTC".into());
    env.extend(cfg.function_env.clone());
    let task_root = cfg.task_root.display().to_string();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_owned(), v);
    };
    set("AWS_LAMBDA_RUNTIME_API", core.api_addr.to_string());
    set("_HANDLER", cfg.handler.clone());
    set("LAMBDA_TASK_ROOT", task_root);
    set("LAMBDA_RUNTIME_DIR", "/var/runtime".into());
    set("AWS_LAMBDA_FUNCTION_NAME", cfg.function_name.clone());
    set("AWS_LAMBDA_FUNCTION_VERSION", cfg.function_version.clone());
    set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", cfg.memory_mb.to_string());
    set(
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        cfg.initialization.as_str().into(),
    );
    if let Some(n) = cfg.initialization.max_concurrency() {
        set("AWS_LAMBDA_MAX_CONCURRENCY", n.to_string());
    }
    set("AWS_REGION", cfg.region.clone());
    set("AWS_DEFAULT_REGION", cfg.region.clone());
    // SnapStart environments are restored from one snapshot, so no log stream is theirs alone.
    if !cfg.initialization.is_snap_start() {
        set(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", cfg.function_name),
        );
        set("AWS_LAMBDA_LOG_STREAM_NAME", instance_id.to_owned());
    }
    set("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into());
    set("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000".into());
    set("_AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129".into());
    set("_AWS_XRAY_DAEMON_PORT", "2000".into());
    if let Some(exec_env) = &cfg.execution_env {
        set("AWS_EXECUTION_ENV", exec_env.clone());
    }
    if cfg.effective_log_format() == LogFormat::Json {
        set("AWS_LAMBDA_LOG_FORMAT", "JSON".into());
    }
    if let Some(c) = &cfg.credentials {
        set("AWS_ACCESS_KEY_ID", c.access_key_id.clone());
        set("AWS_ACCESS_KEY", c.access_key_id.clone());
        set("AWS_SECRET_ACCESS_KEY", c.secret_access_key.clone());
        if let Some(token) = &c.session_token {
            set("AWS_SESSION_TOKEN", token.clone());
        }
    }
    env
}

/// The extensions' environment: the runtime env minus `_`-prefixed keys, log names, task root,
/// runtime dir, execution env and the X-Ray daemon variables.
pub(crate) fn extension_env(runtime_env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    runtime_env
        .iter()
        .filter(|(k, _)| !k.starts_with('_') && !EXTENSION_HIDDEN.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Files directly in `<opt>/extensions` (directories ignored), sorted by name.
pub(crate) fn list_extensions(opt_dir: Option<&Path>) -> Vec<(String, std::path::PathBuf)> {
    let Some(dir) = opt_dir.map(|d| d.join("extensions")) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_type()
                .map(|t| t.is_file() || t.is_symlink())
                .unwrap_or(false)
                && e.path().is_file()
        })
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    files.sort();
    files
}

/// What to launch.
pub(crate) struct Launch<'a> {
    pub role: ProcessRole,
    pub name: String,
    pub argv: Vec<String>,
    pub env: &'a BTreeMap<String, String>,
    pub cwd: &'a Path,
}

/// Launches a process in its own process group; output becomes telemetry, its exit updates the state.
pub(crate) fn launch(core: &Arc<Core>, epoch: u64, spec: Launch<'_>) -> std::io::Result<u32> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command line"))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(spec.env)
        .current_dir(spec.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut busy = 0;
    let mut child = loop {
        match command.spawn() {
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && busy < BUSY_LAUNCH_RETRIES =>
            {
                busy += 1;
                std::thread::sleep(BUSY_LAUNCH_PAUSE);
            }
            spawned => break spawned?,
        }
    };
    let pid = child.id().expect("a just-spawned child has a pid");
    let (role, name) = (spec.role, spec.name);
    core.update(|st| {
        st.processes.push(ProcessSlot {
            pid,
            name: name.clone(),
            role,
            sent_sigterm: false,
            sent_sigkill: false,
            exited: false,
        })
    });
    let category = if role == ProcessRole::Runtime {
        Category::Function
    } else {
        Category::Extension
    };
    let prefix = if role == ProcessRole::Runtime {
        "runtime".to_owned()
    } else {
        format!("ext:{name}")
    };
    let stdout = child.stdout.take().expect("stdout was piped");
    let stderr = child.stderr.take().expect("stderr was piped");
    let readers = [
        tokio::spawn(pump_lines(core.clone(), stdout, category, prefix.clone())),
        tokio::spawn(pump_lines(core.clone(), stderr, category, prefix)),
    ];
    if role == ProcessRole::Runtime {
        tokio::spawn(watch_memory(core.clone(), pid, epoch));
    }
    let core = core.clone();
    tokio::spawn(async move {
        let status = child.wait().await;
        // Let the output readers drain first so a crash's last words precede its consequences.
        for r in readers {
            let _ = r.await;
        }
        record_exit(&core, epoch, pid, status.ok());
    });
    Ok(pid)
}

fn record_exit(core: &Core, epoch: u64, pid: u32, status: Option<std::process::ExitStatus>) {
    use std::os::unix::process::ExitStatusExt;
    core.update(|st| {
        let Some(slot) = st.processes.iter_mut().find(|p| p.pid == pid && !p.exited) else {
            return;
        };
        slot.exited = true;
        let exit = ProcessExit {
            name: slot.name.clone(),
            role: slot.role,
            pid,
            code: status.and_then(|s| s.code()),
            signal: status.and_then(|s| s.signal()),
            sent_sigterm: slot.sent_sigterm,
            sent_sigkill: slot.sent_sigkill,
            after_shutdown_began: st.stopping.map(|t| t.elapsed()),
        };
        let describe = match (exit.code, exit.signal) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(sig)) => format!("signal: {}", signal_name(sig)),
            _ => "unknown status".to_owned(),
        };
        let unexpected = st.stopping.is_none() && st.epoch == epoch && st.failure.is_none();
        if unexpected {
            st.failure = Some(match exit.role {
                ProcessRole::Runtime if exit.sent_sigkill => PlatformError::new(
                    "Runtime.OutOfMemory",
                    Status::Error,
                    format!("Runtime exited with error: {describe}"),
                ),
                ProcessRole::Runtime => PlatformError::new(
                    "Runtime.ExitError",
                    Status::Error,
                    format!("Runtime exited with error: {describe}"),
                ),
                ProcessRole::Extension => PlatformError::new(
                    "Extension.Crash",
                    Status::Error,
                    format!("Extension {} exited with error: {describe}", exit.name),
                ),
            });
        }
        st.exits.push(exit);
    });
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "killed".to_owned(),
        libc::SIGTERM => "terminated".to_owned(),
        libc::SIGSEGV => "segmentation fault".to_owned(),
        libc::SIGABRT => "aborted".to_owned(),
        other => format!("signal {other}"),
    }
}

async fn pump_lines(
    core: Arc<Core>,
    stream: impl AsyncRead + Unpin,
    category: Category,
    prefix: String,
) {
    let mut lines = BufReader::new(stream).lines();
    let json_logs = core.config.effective_log_format() == LogFormat::Json;
    while let Ok(Some(line)) = lines.next_line().await {
        if !core.config.quiet {
            eprintln!("[{prefix}] {line}");
        }
        let object = json_logs.then(|| {
            // With several invocations in flight (Managed Instances) a line's owner is unknown.
            let request_id = core.read(|st| match st.invokes.as_slice() {
                [only] => Some(only.request_id.to_string()),
                _ => None,
            });
            json_record(&line, request_id)
        });
        core.hub.emit_line(category, line, object);
    }
}

/// The JSON-format record of a line: the line itself when it is a JSON object (what runtimes print
/// with `AWS_LAMBDA_LOG_FORMAT=JSON`), else `{timestamp, level, requestId, message}` around it.
fn json_record(line: &str, request_id: Option<String>) -> Value {
    match serde_json::from_str::<Value>(line) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            let mut o = json!({"timestamp": iso8601_ms(SystemTime::now()), "level": "INFO", "message": line});
            if let Some(id) = request_id {
                o["requestId"] = Value::String(id);
            }
            o
        }
    }
}

/// Samples the runtime group's RSS; SIGKILLs the group when it exceeds the memory size.
async fn watch_memory(core: Arc<Core>, pgid: u32, epoch: u64) {
    let limit = u64::from(core.config.memory_mb) * 1024 * 1024;
    loop {
        let alive = core.read(|st| {
            st.epoch == epoch && st.processes.iter().any(|p| p.pid == pgid && !p.exited)
        });
        if !alive {
            return;
        }
        let rss = group_rss_bytes(pgid);
        core.peak_rss.fetch_max(rss, Ordering::Relaxed);
        if rss > limit {
            tracing::info!(
                pgid,
                rss,
                limit,
                "runtime exceeded its memory size; killing it"
            );
            signal_process(&core, pgid, libc::SIGKILL);
            return;
        }
        tokio::time::sleep(RSS_SAMPLE_INTERVAL).await;
    }
}

/// Sum of VmRSS over every process in group `pgid` (the runtime and anything it spawned).
pub(crate) fn group_rss_bytes(pgid: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| process_group_of(*pid) == Some(pgid))
        .map(rss_bytes)
        .sum()
}

fn process_group_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state ppid pgrp ...
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| {
                    v.split_whitespace()
                        .next()
                        .and_then(|n| n.parse::<u64>().ok())
                })
        })
        .map_or(0, |kb| kb * 1024)
}

/// Sends `sig` to the process group led by `pid`, recording SIGTERM/SIGKILL for the exit report.
pub(crate) fn signal_process(core: &Core, pid: u32, sig: i32) {
    core.update(|st| {
        if let Some(p) = st.processes.iter_mut().find(|p| p.pid == pid && !p.exited) {
            p.sent_sigterm |= sig == libc::SIGTERM;
            p.sent_sigkill |= sig == libc::SIGKILL;
            // SAFETY: kill(2) with a negative pid signals that process group; no memory is touched.
            unsafe { libc::kill(-(pid as i32), sig) };
        }
    });
}

/// Stops (`true`) or continues (`false`) every live process group (the freeze of FreezeMode::Signals).
pub(crate) fn stop_all(core: &Core, stop: bool) {
    let sig = if stop { libc::SIGSTOP } else { libc::SIGCONT };
    let pids: Vec<u32> = core.read(|st| {
        st.processes
            .iter()
            .filter(|p| !p.exited)
            .map(|p| p.pid)
            .collect()
    });
    for pid in pids {
        // SAFETY: as in `signal_process`.
        unsafe { libc::kill(-(pid as i32), sig) };
    }
}

/// Waits until `deadline` for every live process of `role` (all if `None`) to exit.
pub(crate) async fn wait_exited(core: &Core, role: Option<ProcessRole>, deadline: Instant) -> bool {
    core.wait_for(Some(deadline), |st| {
        st.processes
            .iter()
            .all(|p| p.exited || role.is_some_and(|r| r != p.role))
            .then_some(())
    })
    .await
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_env_is_filtered() {
        let full: BTreeMap<String, String> = [
            "_HANDLER",
            "_X_AMZN_TRACE_ID",
            "AWS_EXECUTION_ENV",
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "LAMBDA_TASK_ROOT",
            "LAMBDA_RUNTIME_DIR",
            "AWS_XRAY_CONTEXT_MISSING",
            "AWS_XRAY_DAEMON_ADDRESS",
            "_AWS_XRAY_DAEMON_PORT",
            "AWS_REGION",
            "AWS_LAMBDA_RUNTIME_API",
            "OTEL_SERVICE_NAME",
        ]
        .iter()
        .map(|k| ((*k).to_owned(), "v".to_owned()))
        .collect();
        let kept: Vec<String> = extension_env(&full).into_keys().collect();
        assert_eq!(
            kept,
            ["AWS_LAMBDA_RUNTIME_API", "AWS_REGION", "OTEL_SERVICE_NAME"]
        );
    }

    #[test]
    fn json_records() {
        assert_eq!(
            json_record(r#"{"level":"INFO","message":"m"}"#, None),
            json!({"level":"INFO","message":"m"})
        );
        let wrapped = json_record("plain", Some("r1".into()));
        assert_eq!(
            (
                wrapped["message"].as_str(),
                wrapped["requestId"].as_str(),
                wrapped["level"].as_str()
            ),
            (Some("plain"), Some("r1"), Some("INFO"))
        );
    }

    #[test]
    fn measures_own_group() {
        // SAFETY: getpgrp(2) has no preconditions.
        let pgid = unsafe { libc::getpgrp() } as u32;
        assert!(group_rss_bytes(pgid) > 0);
    }
}
