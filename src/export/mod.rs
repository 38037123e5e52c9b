//! Export: finished signals (spans, log records, metric collections) queued and sent before the
//! lifecycle loop calls `/extension/event/next`, to an OTLP collector or to AWS (X-Ray, CloudWatch
//! Logs, CloudWatch metrics).
//!
//! Why queues and a budget instead of the SDK's batch processors: the sandbox freezes as soon as
//! the extension asks for the next event, so everything must be sent *before* that call, within a
//! bound the invocation can afford. What a flush could not send stays queued for the next one
//! (the next thaw, or SHUTDOWN).
//!
//! The module is cut along three axes, so that a new signal or a new target is a sibling:
//!
//! | file | owns |
//! | --- | --- |
//! | `exporter` | [`Exporter`], the owner task's handle: built from the settings, one flush for all signals |
//! | `outbox` | one signal on its way out: queue, kept encoded request, endpoint, the send loop |
//! | `queue` | the bounded queue of one signal's items and its drop accounting |
//! | `request` | what every request carries (resource, scope) and the encoded request |
//! | `flush` | the flush policy: time budget, deadline, what is kept, what is dropped for good, the pause after a timeout |
//! | `circuit` | when a collector may be sent to: backoff with jitter, `Retry-After`, probes |
//! | `collector` | what the signals sent to one collector share: its circuit, its one probe, its failure log |
//! | `failure` | what a failed attempt was, and the drop rule |
//! | `retry_after` | `Retry-After` parsed |
//! | `fault_log` | how often failures are logged |
//! | `traces`, `logs`, `metrics` | each signal's batching and encoding, and its bounds |
//! | `wire/` | OTLP protobuf written from the queued items, borrowed, into one buffer |
//! | `otlp/` | the OTLP target: senders per transport (HTTP, gRPC), TLS, headers |
//! | `xray/` | the AWS target: endpoints and region, SigV4 signing, X-Ray's request and span limits |
//!
//! Configuration comes from [`ExportSettings`](crate::settings::ExportSettings), read by the
//! `settings` module: whether to export at all and which signals, the flush budget and span
//! queue bound, and each signal's target.

mod circuit;
mod collector;
mod exporter;
mod failure;
mod fault_log;
mod flush;
mod logs;
mod metrics;
mod otlp;
mod outbox;
mod queue;
mod request;
mod retry_after;
mod traces;
mod wire;
mod xray;

pub use self::circuit::{Jitter, BACKOFF_BASE, BACKOFF_CAP, FAILURES_TO_OPEN, PROBE_TIMEOUT};
pub use self::exporter::{DroppedCounts, ExportError, Exporter};
pub use self::fault_log::LOG_INTERVAL;
pub use self::flush::{FlushOutcome, Occasion, SignalFlush, TIMEOUT_PAUSE};
pub use self::logs::{LOG_QUEUE_RECORDS, MAX_BATCH_LOG_RECORDS};
pub use self::metrics::{MAX_BATCH_METRIC_COLLECTIONS, METRIC_QUEUE_COLLECTIONS};
pub use self::request::SCOPE_NAME;
pub use self::retry_after::MAX_RETRY_AFTER;
pub use self::traces::MAX_BATCH_SPANS;
pub use self::wire::{LogAttribute, LogEntry, LogValue, TraceIds};
pub use self::xray::{
    XrayConfigError, TRUNCATION_MARKER, XRAY_MAX_BATCH_SPANS, XRAY_MAX_REQUEST_BYTES,
    XRAY_MAX_SPAN_BYTES,
};
