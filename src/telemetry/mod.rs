//! The Telemetry API subscriber: owns the listener the platform delivers batches to, the parsing of
//! those batches into [`TelemetryEvent`]s, and the `PUT /2022-07-01/telemetry` subscription.
//!
//! Start-up order (the subscription window closes when init ends): [`bind_listener`], spawn
//! [`serve`] with the sending half of a [`queue`] of [`TELEMETRY_QUEUE_CAPACITY`] events, register
//! the extension, then [`subscribe`] with the listener's port. Events reach the owner task in
//! delivery order, one message per delivery; what could not be queued or understood is counted ([`dropped_events`],
//! [`oversize_batches`], [`skipped_elements`]), never logged per batch.

mod batch;
mod body;
mod events;
mod lenient;
mod listener;
mod queue;
mod subscribe;
mod time;

pub use events::{
    parse_batch, LogSource, PlatformSpan, PlatformStatus, PlatformTracing, Report, ReportMetrics,
    RuntimeDone, Start, TelemetryBody, TelemetryEvent,
};
pub use listener::{
    bind_listener, dropped_events, oversize_batches, serve, skipped_elements, MAX_BATCH_BYTES,
};
pub use queue::{queue, BatchReceiver, BatchSender, TELEMETRY_QUEUE_CAPACITY};
pub use subscribe::{subscribe, SchemaVersion, SubscribeError, Subscription};
