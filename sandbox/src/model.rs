//! Small vocabulary types shared by the APIs: statuses, phases, reasons, event kinds, modes.

use std::fmt;
use std::str::FromStr;

/// Outcome of an invocation or init phase, as the Telemetry API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `success`
    Success,
    /// `error` (function or runtime error: `/error`, runtime exit, OOM, extension crash).
    Error,
    /// `failure` (`Sandbox.*` errors).
    Failure,
    /// `timeout`
    Timeout,
}

impl Status {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Failure => "failure",
            Status::Timeout => "timeout",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the environment shuts down (`shutdownReason` of the SHUTDOWN event, lower case like rapid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownReason {
    /// Normal end of the environment.
    Spindown,
    /// Reset after a function timeout.
    Timeout,
    /// Reset after a crash, OOM kill or init error.
    Failure,
}

impl ShutdownReason {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ShutdownReason::Spindown => "spindown",
            ShutdownReason::Timeout => "timeout",
            ShutdownReason::Failure => "failure",
        }
    }
}

impl fmt::Display for ShutdownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `phase` of `platform.initStart`/`initRuntimeDone`/`initReport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitPhase {
    /// The environment's normal init.
    Init,
    /// Re-init inside an invocation after a reset ("suppressed init").
    Invoke,
}

impl InitPhase {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InitPhase::Init => "init",
            InitPhase::Invoke => "invoke",
        }
    }
}

/// Events an extension can register for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `INVOKE`
    Invoke,
    /// `SHUTDOWN`
    Shutdown,
}

impl EventKind {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Invoke => "INVOKE",
            EventKind::Shutdown => "SHUTDOWN",
        }
    }

    /// Parses the exact upper-case name the Extensions API accepts.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "INVOKE" => Some(EventKind::Invoke),
            "SHUTDOWN" => Some(EventKind::Shutdown),
            _ => None,
        }
    }
}

/// Most concurrent invocations one Lambda Managed Instances environment is given here: AWS's default
/// per vCPU (`AWS_LAMBDA_MAX_CONCURRENCY` is set from it), kept as the sandbox's ceiling.
pub const MAX_MANAGED_CONCURRENCY: u16 = 16;

/// How Lambda runs the environment: `AWS_LAMBDA_INITIALIZATION_TYPE` and the rules that come with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitializationType {
    /// Default functions: one invocation at a time, INVOKE events, `platform.runtimeDone`, frozen
    /// between invocations.
    #[default]
    OnDemand,
    /// Lambda Managed Instances: up to `max_concurrency` invocations at once, extensions register for
    /// SHUTDOWN only, Telemetry API schema `2025-01-29` only, no `platform.runtimeDone`, never frozen.
    ManagedInstances {
        /// `AWS_LAMBDA_MAX_CONCURRENCY`: concurrent `/next` calls the runtime may hold.
        max_concurrency: u16,
    },
    /// Lambda SnapStart: init runs once, the environment is snapshotted, and every execution
    /// environment starts from a restore (`platform.restore*` events, `restoreDurationMs` on the
    /// first report); no log group or stream variables. Otherwise invoked like on-demand.
    SnapStart,
}

impl InitializationType {
    /// The wire spelling (`initializationType`, `AWS_LAMBDA_INITIALIZATION_TYPE`).
    pub fn as_str(self) -> &'static str {
        match self {
            InitializationType::OnDemand => "on-demand",
            InitializationType::ManagedInstances { .. } => "lambda-managed-instances",
            InitializationType::SnapStart => "snap-start",
        }
    }

    /// `AWS_LAMBDA_MAX_CONCURRENCY`, set on Managed Instances only.
    pub fn max_concurrency(self) -> Option<u16> {
        match self {
            InitializationType::OnDemand | InitializationType::SnapStart => None,
            InitializationType::ManagedInstances { max_concurrency } => Some(max_concurrency),
        }
    }

    /// Lambda Managed Instances rules apply.
    pub fn is_managed(self) -> bool {
        self.max_concurrency().is_some()
    }

    /// SnapStart rules apply.
    pub fn is_snap_start(self) -> bool {
        self == InitializationType::SnapStart
    }
}

/// How the sandbox models Lambda's freeze between invocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FreezeMode {
    /// Hold telemetry delivery while frozen; processes keep running.
    #[default]
    Telemetry,
    /// Also SIGSTOP the runtime and extension process groups while frozen (SIGCONT at thaw).
    Signals,
}

/// Function log format (`AWS_LAMBDA_LOG_FORMAT`), which decides how `function` records are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Plain text lines: records are strings.
    #[default]
    Text,
    /// JSON lines: records are objects for schema versions 2022-12-13 and later.
    Json,
}

/// Error for a mode name the CLI does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownMode {
    what: &'static str,
    value: String,
}

impl FromStr for FreezeMode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "telemetry" => Ok(FreezeMode::Telemetry),
            "signals" => Ok(FreezeMode::Signals),
            _ => Err(UnknownMode {
                what: "freeze mode",
                value: s.to_owned(),
            }),
        }
    }
}

impl FromStr for LogFormat {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(UnknownMode {
                what: "log format",
                value: s.to_owned(),
            }),
        }
    }
}
