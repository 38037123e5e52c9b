//! lambda-lens: an AWS Lambda extension that sees inside every invocation.
//!
//! The data flow, one module per stage: [`config`] is read once; [`proxy`] forwards the runtime's
//! Runtime API calls and tees their bodies through [`capture`], producing [`record`]s; the
//! [`recorder`] task owns them; [`lifecycle`] drives the Extensions API; [`app`] wires it together.

pub mod app;
pub mod capture;
pub mod config;
pub mod export;
pub mod handoff;
pub mod http_client;
pub mod lifecycle;
pub mod logging;
pub mod proxy;
pub mod record;
pub mod recorder;
pub mod telemetry;
pub mod trace_context;
pub mod trigger;
