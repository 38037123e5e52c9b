//! Aggregation temporality (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
//!
//! The default is **delta**: an environment may be frozen and never thawed, so each export says
//! only what happened since the previous one, a backend sums the environments' points without
//! tracking each environment's resets, and a collection waiting in the export queue is complete on
//! its own. Every lambda-lens instrument is a synchronous counter or histogram, so `lowmemory`
//! (delta for those, cumulative for up-down counters and asynchronous instruments, of which there
//! are none) is delta here too.

use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;

/// How data points are aggregated over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Temporality {
    /// Each export covers the time since the previous one.
    #[default]
    Delta,
    /// Each export covers the time since the process started.
    Cumulative,
    /// Delta for counters and histograms (all lambda-lens has).
    LowMemory,
}

impl Temporality {
    /// Reads a preference as the specification spells it (any case).
    pub fn parse(raw: &str) -> Option<Self> {
        [
            ("delta", Self::Delta),
            ("cumulative", Self::Cumulative),
            ("lowmemory", Self::LowMemory),
        ]
        .into_iter()
        .find(|(name, _)| raw.trim().eq_ignore_ascii_case(name))
        .map(|(_, t)| t)
    }

    /// Whether the points restart after each export.
    pub fn resets(self) -> bool {
        !matches!(self, Self::Cumulative)
    }

    /// The temporality as OTLP states it on a sum or histogram.
    pub fn proto(self) -> AggregationTemporality {
        if self.resets() {
            AggregationTemporality::Delta
        } else {
            AggregationTemporality::Cumulative
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferences_as_spelled_by_the_specification() {
        assert_eq!(Temporality::parse("delta"), Some(Temporality::Delta));
        assert_eq!(
            Temporality::parse("Cumulative"),
            Some(Temporality::Cumulative)
        );
        assert_eq!(
            Temporality::parse("LOWMEMORY"),
            Some(Temporality::LowMemory)
        );
        assert_eq!(Temporality::parse("often"), None);
        assert_eq!(
            Temporality::LowMemory.proto(),
            AggregationTemporality::Delta
        );
        assert_eq!(
            Temporality::Cumulative.proto(),
            AggregationTemporality::Cumulative
        );
    }
}
