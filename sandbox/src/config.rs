//! Sandbox configuration: what the function looks like and how the emulated environment behaves.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::model::{FreezeMode, InitializationType, LogFormat, MAX_MANAGED_CONCURRENCY};

/// Smallest memory size Lambda accepts for a Managed Instances function (one runtime worker per
/// concurrent request shares it).
pub const MIN_MANAGED_MEMORY_MB: u32 = 2048;

/// AWS credentials handed to the runtime and extensions as `AWS_ACCESS_KEY_ID` & co.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AWS_ACCESS_KEY_ID` (also exported as `AWS_ACCESS_KEY`).
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, when the credentials are temporary.
    pub session_token: Option<String>,
}

/// Everything the sandbox needs to emulate one function's execution environment.
///
/// Build with [`SandboxConfig::new`] and adjust the public fields or use the `with_*` helpers.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The `/opt` directory: every file directly in `<opt>/extensions/` is launched as an extension.
    pub opt_dir: Option<PathBuf>,
    /// `LAMBDA_TASK_ROOT` and the runtime's working directory.
    pub task_root: PathBuf,
    /// The runtime command line (e.g. `python -m awslambdaric app.handler`), run from `task_root`.
    pub runtime_command: Vec<String>,
    /// Customer environment variables (function configuration); they reach runtime and extensions.
    pub function_env: BTreeMap<String, String>,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub function_version: String,
    /// `_HANDLER`, also returned by `/extension/register`.
    pub handler: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`; also the RSS limit enforced on the runtime process group.
    pub memory_mb: u32,
    /// Function timeout: bounds the runtime and the extensions' post-invoke work.
    pub timeout: Duration,
    /// Init phase limit (10 s on Lambda for on-demand functions).
    pub init_timeout: Duration,
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`.
    pub region: String,
    /// Account id returned by `/extension/register` when the `accountId` feature is requested.
    pub account_id: Option<String>,
    /// Credentials exported to runtime and extensions.
    pub credentials: Option<Credentials>,
    /// `AWS_EXECUTION_ENV` (absent on OS-only runtimes).
    pub execution_env: Option<String>,
    /// `runtimeVersion` in `platform.initStart`.
    pub runtime_version: String,
    /// How the freeze between invocations is modelled (never frozen on Managed Instances).
    pub freeze: FreezeMode,
    /// On-demand, SnapStart or Lambda Managed Instances, with the platform rules of each.
    pub initialization: InitializationType,
    /// The function's log format; `AWS_LAMBDA_LOG_FORMAT=JSON` in `function_env` also selects JSON.
    pub log_format: LogFormat,
    /// Do not echo process output to the console.
    pub quiet: bool,
    /// Address of the Runtime/Extensions/Telemetry API listener (`AWS_LAMBDA_RUNTIME_API`).
    pub api_listen: SocketAddr,
    /// Address of the RIE-compatible invoke endpoint; `None` serves no HTTP invoke endpoint.
    pub invoke_listen: Option<SocketAddr>,
}

impl SandboxConfig {
    /// A configuration with Lambda-like defaults: 128 MB, 3 s timeout, 10 s init timeout, us-east-1.
    pub fn new(task_root: impl Into<PathBuf>, runtime_command: Vec<String>) -> Self {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            opt_dir: None,
            task_root: task_root.into(),
            runtime_command,
            function_env: BTreeMap::new(),
            function_name: "test-function".to_owned(),
            function_version: "$LATEST".to_owned(),
            handler: "app.handler".to_owned(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            init_timeout: Duration::from_secs(10),
            region: "us-east-1".to_owned(),
            account_id: Some("123456789012".to_owned()),
            credentials: None,
            execution_env: Some("AWS_Lambda_python3.12".to_owned()),
            runtime_version: "python:3.12.v40".to_owned(),
            freeze: FreezeMode::Telemetry,
            initialization: InitializationType::OnDemand,
            log_format: LogFormat::Text,
            quiet: false,
            api_listen: loopback,
            invoke_listen: Some(loopback),
        }
    }

    /// Sets the `/opt` directory whose `extensions/` files are launched.
    pub fn with_opt_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.opt_dir = Some(dir.into());
        self
    }

    /// Adds one customer environment variable.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.function_env.insert(key.into(), value.into());
        self
    }

    /// Sets the function timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the memory size in MB.
    pub fn with_memory_mb(mut self, memory_mb: u32) -> Self {
        self.memory_mb = memory_mb;
        self
    }

    /// Sets the freeze mode.
    pub fn with_freeze(mut self, freeze: FreezeMode) -> Self {
        self.freeze = freeze;
        self
    }

    /// Runs the environment as Lambda Managed Instances with `max_concurrency` concurrent
    /// invocations, capped at [`MAX_MANAGED_CONCURRENCY`] (and at least 1), and at least
    /// [`MIN_MANAGED_MEMORY_MB`] of memory.
    pub fn with_managed_instances(mut self, max_concurrency: u16) -> Self {
        self.initialization = InitializationType::ManagedInstances {
            max_concurrency: max_concurrency.clamp(1, MAX_MANAGED_CONCURRENCY),
        };
        self.memory_mb = self.memory_mb.max(MIN_MANAGED_MEMORY_MB);
        self
    }

    /// Runs the environment as a SnapStart function: init, snapshot, restore, then invocations.
    pub fn with_snap_start(mut self) -> Self {
        self.initialization = InitializationType::SnapStart;
        self
    }

    /// Silences the console echo of process output.
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// The effective log format (config field or `AWS_LAMBDA_LOG_FORMAT=JSON` in the function env).
    pub fn effective_log_format(&self) -> LogFormat {
        match self.function_env.get("AWS_LAMBDA_LOG_FORMAT") {
            Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => self.log_format,
        }
    }

    /// The function ARN callers invoke (`Lambda-Runtime-Invoked-Function-Arn`).
    pub fn function_arn(&self) -> String {
        let account = self.account_id.as_deref().unwrap_or("012345678912");
        format!(
            "arn:aws:lambda:{}:{account}:function:{}",
            self.region, self.function_name
        )
    }
}
