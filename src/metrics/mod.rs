//! Metrics: the OpenTelemetry FaaS metrics and lambda-lens's own, aggregated here (no SDK meter
//! provider: a handful of counters and histograms, exact and small) and handed to the exporter as
//! OTLP [`Metric`]s.
//!
//! - every metric's name, unit, kind and bucket boundaries, and the attribute names: [`names`];
//! - what an invocation and a report record, and when: `record`;
//! - the series and their collection into OTLP metrics: `aggregate` (histogram points in
//!   `histogram`);
//! - delta or cumulative: [`Temporality`].
//!
//! A collection is taken at a flush once the export interval has passed since the last one
//! ([`Metrics::due`]), and always at SHUTDOWN; between them, recording is a few additions.

mod aggregate;
mod histogram;
pub mod names;
mod record;
mod temporality;

use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::metrics::v1::Metric;

use self::aggregate::Aggregates;
pub use self::temporality::Temporality;
use crate::correlate::{InvocationSummary, JoinedReport};
use crate::event::Trigger;
use crate::recent::RecentMap;
use crate::record::RequestId;

/// Closed invocations whose trigger is remembered for their report's figures.
pub const MAX_REMEMBERED_TRIGGERS: usize = 256;

/// Which signal a drop concerns (the [`names::SIGNAL`] attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Log records.
    Logs,
    /// Metric collections.
    Metrics,
}

impl Signal {
    fn as_str(self) -> &'static str {
        match self {
            Self::Traces => "traces",
            Self::Logs => "logs",
            Self::Metrics => "metrics",
        }
    }
}

/// Why items were dropped (the [`names::DROP_REASON`] attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Over a per-invocation bound.
    Limit,
    /// The export queue was full, or the collector refused them for good.
    Queue,
    /// The Telemetry API dropped them before lambda-lens saw them.
    Platform,
}

impl DropReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Limit => "limit",
            Self::Queue => "queue",
            Self::Platform => "platform",
        }
    }
}

/// The metrics of this environment since the last collection (or since the start).
#[derive(Debug)]
pub struct Metrics {
    aggregates: Aggregates,
    triggers: RecentMap<RequestId, Trigger>,
    interval: Duration,
    last_collection: SystemTime,
}

impl Metrics {
    /// Nothing recorded yet at `now`; collections every `interval` with `temporality`.
    pub fn new(temporality: Temporality, interval: Duration, now: SystemTime) -> Self {
        Self {
            aggregates: Aggregates::new(temporality, now),
            triggers: RecentMap::new(MAX_REMEMBERED_TRIGGERS),
            interval,
            last_collection: now,
        }
    }

    /// Records a closed invocation.
    pub fn invocation(&mut self, inv: &InvocationSummary) {
        let trigger = record::trigger(inv);
        self.triggers.insert(inv.request_id.clone(), trigger);
        record::invocation(&mut self.aggregates, inv, trigger);
    }

    /// Records a report's figures.
    pub fn report(&mut self, joined: &JoinedReport) {
        let trigger = self
            .triggers
            .take(&joined.invocation.request_id)
            .unwrap_or(Trigger::Other);
        record::report(&mut self.aggregates, joined, trigger);
    }

    /// Counts `count` items of `signal` dropped for `reason`.
    pub fn dropped(&mut self, signal: Signal, reason: DropReason, count: u64) {
        if count > 0 {
            let attributes = [
                (names::SIGNAL, signal.as_str()),
                (names::DROP_REASON, reason.as_str()),
            ];
            self.aggregates.add(names::DROPPED, &attributes, count);
        }
    }

    /// Whether the export interval has passed at `now`.
    pub fn due(&self, now: SystemTime) -> bool {
        now.duration_since(self.last_collection)
            .is_ok_and(|since| since >= self.interval)
    }

    /// The metrics at `now` (empty when nothing was recorded for a delta collection).
    pub fn collect(&mut self, now: SystemTime) -> Vec<Metric> {
        self.last_collection = now;
        self.aggregates.collect(now)
    }
}
