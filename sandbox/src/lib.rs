//! lambda-sandbox: a faithful local AWS Lambda execution environment.
//!
//! One loopback listener serves the Runtime API (2018-06-01), the Extensions API (2020-01-01), the
//! Telemetry API (2022-07-01) and a Logs API (2020-08-15) stub; a second one serves the Runtime
//! Interface Emulator's invoke endpoint. The sandbox launches the extensions in `<opt>/extensions`
//! and the runtime command with Lambda's environments, follows the platform's init/invoke/shutdown
//! ordering, emits and delivers `platform.*`, `function` and `extension` telemetry with per-subscriber
//! batching, holds delivery while "frozen" between invocations (optionally SIGSTOPping the
//! processes), and enforces timeouts, memory limits, crashes and resets like rapid does. A Lambda
//! Managed Instances mode ([`SandboxConfig::with_managed_instances`]) runs invocations concurrently
//! with that platform's rules instead, and a SnapStart mode ([`SandboxConfig::with_snap_start`])
//! snapshots the environment after init and restores it before the first invocation.
//!
//! Start with [`Sandbox::start`] and a [`SandboxConfig`].

mod api;
mod body;
mod clock;
mod config;
mod core;
mod error;
mod ids;
mod invoke_http;
mod lifecycle;
mod managed;
mod model;
mod process;
mod sandbox;
mod snap_start;
mod telemetry;
mod trace;

pub use crate::config::{Credentials, SandboxConfig, MIN_MANAGED_MEMORY_MB};
pub use crate::core::{
    ExtensionNextCall, ExtensionNextHook, LifecycleEvent, ProcessExit, ProcessRole,
};
pub use crate::error::SandboxError;
pub use crate::ids::{ExtensionId, RequestId};
pub use crate::invoke_http::{invoke_over_http, HttpInvokeResult};
pub use crate::model::{
    EventKind, FreezeMode, InitPhase, InitializationType, LogFormat, ShutdownReason, Status,
    MAX_MANAGED_CONCURRENCY,
};
pub use crate::sandbox::{
    Invocation, InvokeOutcome, RegisteredExtension, Sandbox, ShutdownOutcome,
};
pub use crate::snap_start::{RESTORE_TIMEOUT, SNAPSHOT_GAP};
pub use crate::telemetry::SchemaVersion;
pub use crate::trace::{xray_trace_id, TraceMode, UnknownTraceMode};
