//! lambda-lens: an AWS Lambda extension that sees inside every invocation.
//!
//! The modules follow one invocation's data, stage by stage.
//!
//! 1. **Observations.** [`proxy`] forwards the runtime's Runtime API calls, taps their bodies
//!    through [`capture`] (changing them only where a [`transform`] asks to) and produces
//!    [`record`]s; [`telemetry`] receives the platform's events; [`lifecycle`] drives the Extensions
//!    API and delivers INVOKE and SHUTDOWN.
//! 2. **The owner task.** [`pipeline`] owns all per-invocation state: [`correlate`] joins the three
//!    views by request id and decides when an invocation is complete, remembering closed ones in a
//!    [`recent`] map; the task answers the lifecycle loop only once the spans are out.
//! 3. **Signal building.** [`spans`] turns a closed invocation into OpenTelemetry spans, with
//!    [`trace_context`] (X-Ray ↔ W3C, sampling), [`event`] (what started the invocation: one
//!    module per event source, the event head parsed once) and [`redact`] (nothing secret leaves
//!    the process); [`json`] is the path grammar and the scanner redaction and transforms share.
//! 4. **Export.** [`export`] sends the spans over OTLP (or to X-Ray) before the sandbox freezes.
//!
//! Around them: [`settings`] are read once at start-up (the only reader of the environment);
//! [`app`] wires the stages together in start-up order; [`handoff`] tells the wrapper where the
//! proxy listens; [`net`] binds listeners; [`platform_http`] is lambda-lens's own HTTP with the
//! platform (the pooled client; `kept_connection` is the kept raw connection of the event poll and
//! of OTLP/HTTP export to `http://` collectors); `cow_str` is the borrowed JSON string the
//! Telemetry API's and the Extensions API's readers share, `last_shared` the last shared text kept
//! while a value repeats (request ids, the invoked ARN, content types); [`logging`] is its own log; [`fuzzing`] holds the
//! fuzz targets' entry points.

#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms)]

pub mod app;
pub mod capture;
pub mod correlate;
mod cow_str;
pub mod event;
pub mod export;
#[doc(hidden)]
pub mod fuzzing;
pub mod handoff;
pub mod json;
mod kept_connection;
mod last_shared;
pub mod lifecycle;
pub mod logging;
pub mod logs;
pub mod metrics;
pub mod net;
pub mod pipeline;
pub mod platform_http;
pub mod proto_values;
pub mod proxy;
pub mod recent;
pub mod record;
pub mod redact;
pub mod settings;
pub mod spans;
pub mod telemetry;
pub mod trace_context;
pub mod transform;
#[cfg(test)]
mod wire_testing;
