//! trace-view: a small OTLP trace receiver.
//!
//! It listens for OTLP/HTTP (protobuf or JSON, optionally gzip) and OTLP/gRPC exports,
//! decodes them into [`ReceivedSpan`]s, and keeps them with per-request metadata
//! ([`RequestInfo`]). Integration tests use it as a library to check what an exporter really
//! sent, including under injected faults ([`Mode`]); the `trace-view` binary uses it as a demo
//! backend that prints a [`render_waterfall`] of each trace.
//!
//! ```no_run
//! # async fn example() -> Result<(), trace_view::ReceiverError> {
//! use std::time::Duration;
//! use trace_view::{Receiver, ReceiverConfig};
//!
//! let receiver = Receiver::start(ReceiverConfig::default())?;
//! // Point the exporter under test at receiver.http_endpoint() or receiver.grpc_endpoint().
//! let spans = receiver.wait_for_spans(2, Duration::from_secs(5)).await?;
//! println!("{}", trace_view::render_waterfall(&spans, 80));
//! # Ok(())
//! # }
//! ```

mod grpc;
mod http;
mod jsonl;
mod model;
mod receiver;
mod store;
mod waterfall;

pub use jsonl::JsonlWriter;
pub use model::{
    any_value_to_json, attributes_to_json, spans_from_request, ReceivedSpan, RequestInfo,
    RequestOutcome, SpanEvent, SpanKind, SpanLink, StatusCode, Transport,
};
pub use receiver::{Receiver, ReceiverConfig, ReceiverError, ReceiverHandle, SpanCondition};
pub use store::Mode;
pub use waterfall::{
    render_waterfall, render_waterfall_with, WaterfallOptions, DEFAULT_KEY_ATTRIBUTES,
};
