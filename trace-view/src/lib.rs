//! trace-view: a small OTLP receiver of traces, metrics and logs.
//!
//! It listens for OTLP/HTTP (protobuf or JSON, optionally gzip) and OTLP/gRPC exports,
//! decodes them into [`ReceivedSpan`]s, [`ReceivedMetric`]s and [`ReceivedLog`]s, and keeps them with per-request metadata
//! ([`RequestInfo`]). Integration tests use it as a library to check what an exporter really
//! sent, including under injected faults ([`Mode`]); the `trace-view` binary uses it as a demo
//! backend that prints a [`render_waterfall`] of each trace, then [`render_signals`]: a table of
//! the metrics and the log lines.
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
mod signals;
mod signals_view;
mod store;
mod waterfall;

pub use jsonl::JsonlWriter;
pub use model::{
    any_value_to_json, attributes_to_json, spans_from_request, ReceivedSpan, RequestInfo,
    RequestOutcome, SpanEvent, SpanKind, SpanLink, StatusCode, Transport,
};
pub use receiver::{Receiver, ReceiverConfig, ReceiverError, ReceiverHandle, SpanCondition};
pub use signals::{
    logs_from_request, metrics_from_request, MetricKind, ReceivedLog, ReceivedMetric, ReceivedPoint,
};
pub use signals_view::render_signals;
pub use store::{Mode, THROTTLE_RETRY_AFTER_S};
pub use waterfall::{
    render_waterfall, render_waterfall_with, WaterfallOptions, DEFAULT_KEY_ATTRIBUTES,
};
