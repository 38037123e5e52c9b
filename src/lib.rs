//! lambda-lens: an AWS Lambda extension that sees inside every invocation.
//!
//! The data flow, one module per stage: [`config`] is read once; [`proxy`] forwards the runtime's
//! Runtime API calls and taps their bodies through [`capture`], producing [`record`]s; [`telemetry`]
//! receives the platform's events; [`lifecycle`] drives the Extensions API. The [`pipeline`] task owns
//! all per-invocation state: [`correlate`] joins the views, [`spans`] builds OpenTelemetry spans
//! (using [`trace_context`] and [`event`]) and [`export`] sends them over OTLP before the sandbox
//! freezes. [`app`] wires it together.

pub mod app;
pub mod capture;
pub mod config;
pub mod correlate;
pub mod event;
pub mod export;
pub mod handoff;
pub mod http_client;
pub mod json;
pub mod lifecycle;
pub mod logging;
pub mod net;
pub mod pipeline;
pub mod proxy;
pub mod record;
pub mod redact;
pub mod spans;
pub mod telemetry;
pub mod trace_context;
pub mod transform;
