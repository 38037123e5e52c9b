//! Export: finished signals queued and sent before the lifecycle loop calls
//! `/extension/event/next`, to an OTLP collector or to AWS X-Ray.
//!
//! Why a queue and a budget instead of the SDK's batch processor: the sandbox freezes as soon as
//! the extension asks for the next event, so everything must be sent *before* that call, within a
//! bound the invocation can afford. What a flush could not send stays queued for the next one
//! (the next thaw, or SHUTDOWN).
//!
//! The module is cut along two axes, so that a new signal or a new target is a sibling:
//!
//! | file | owns |
//! | --- | --- |
//! | `exporter` | [`Exporter`], the owner task's handle: built from the settings, one flush per call |
//! | `queue` | the bounded queue of one signal's items and its drop accounting |
//! | `flush` | the flush policy: time budget, deadline, what is kept, what is dropped for good |
//! | `traces` | the trace signal: spans, [`MAX_BATCH_SPANS`], X-Ray's span limits applied |
//! | `otlp/` | the OTLP target: exporters built per transport (HTTP, gRPC), TLS, headers |
//! | `xray/` | the X-Ray target: endpoint and region, SigV4 signing, request and span limits |
//!
//! Metrics and logs slot in as signals beside `traces`: each a module with its own queue
//! (`queue::Queue` of its items), its own request limits (an implementation of
//! `flush::BatchExport`) and its exporter built by `otlp` from its own settings; the
//! [`Exporter`] then holds one of each and flushes them all under the one `flush::Deadline` of
//! the call. Fault handling (backoff, `Retry-After`, a circuit) belongs to the flush policy.
//!
//! Configuration comes from [`ExportSettings`](crate::settings::ExportSettings), read by the
//! `settings` module: whether to export at all, the flush budget and queue bound, and the
//! target.

mod exporter;
mod flush;
mod otlp;
mod queue;
mod traces;
mod xray;

pub use self::exporter::{ExportError, Exporter};
pub use self::flush::FlushOutcome;
pub use self::traces::MAX_BATCH_SPANS;
pub use self::xray::{
    XrayConfigError, TRUNCATION_MARKER, XRAY_MAX_BATCH_SPANS, XRAY_MAX_REQUEST_BYTES,
    XRAY_MAX_SPAN_BYTES,
};
