//! The local Lambda sandbox set up for lambda-lens: the example Python function with the layer
//! installed through its wrapper, and the records lambda-lens logged there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lambda_sandbox::{FreezeMode, Sandbox, SandboxConfig};

use crate::repo::{repo_root, venv_python};

/// The example Python function under `awslambdaric` in the sandbox, without any layer, quiet.
pub fn python_function_config() -> SandboxConfig {
    SandboxConfig::new(
        repo_root().join("examples/python-function"),
        vec![
            venv_python().to_string_lossy().into_owned(),
            "-m".into(),
            "awslambdaric".into(),
            "app.handler".into(),
        ],
    )
    .quiet()
}

/// The example Python function in the sandbox with the layer at `opt` installed through the
/// wrapper, lambda-lens on free ports, a 2 s timeout and real freezing between invocations.
pub fn python_sandbox_config(opt: &Path) -> SandboxConfig {
    python_function_config()
        .with_opt_dir(opt)
        .with_env(
            "AWS_LAMBDA_EXEC_WRAPPER",
            opt.join("lambda-lens-wrapper").to_string_lossy(),
        )
        .with_env("LAMBDA_LENS_PROXY_PORT", "0")
        .with_env("LAMBDA_LENS_TELEMETRY_PORT", "0")
        .with_env(
            "LAMBDA_LENS_HANDOFF_FILE",
            opt.join("handoff/runtime-api").to_string_lossy(),
        )
        .with_timeout(Duration::from_secs(2))
        .with_freeze(FreezeMode::Signals)
}

/// Every line the extensions logged so far (`extension` telemetry), in order.
pub fn extension_lines(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .telemetry_emitted()
        .into_iter()
        .filter(|e| e["type"] == "extension")
        .map(|e| match &e["record"] {
            serde_json::Value::String(s) => s.clone(),
            other => other["message"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

/// The `/proc` directory of the process whose command line contains `needle`.
pub fn process_dir(needle: &str) -> PathBuf {
    for entry in std::fs::read_dir("/proc").expect("procfs") {
        let path = entry.expect("proc entry").path();
        let Ok(cmdline) = std::fs::read(path.join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            return path;
        }
    }
    panic!("no process with {needle} in its command line")
}

/// The records of an invocation the runtime finished through the proxy: its event, its result and
/// the runtime's next `/next`, in this order (asserted).
pub fn finished_records_for(sandbox: &Sandbox, request_id: &str) -> Vec<serde_json::Value> {
    let records = records_for(sandbox, request_id);
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["record"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["invocation", "result", "next"], "{records:#?}");
    records
}

/// The `extension` telemetry lines lambda-lens logged that carry a record for `request_id`.
pub fn records_for(sandbox: &Sandbox, request_id: &str) -> Vec<serde_json::Value> {
    extension_lines(sandbox)
        .into_iter()
        .filter_map(|line| {
            let json = &line[line.find("{\"record\"")?..];
            serde_json::from_str::<serde_json::Value>(json.trim()).ok()
        })
        .filter(|r| r["request_id"] == request_id)
        .collect()
}
