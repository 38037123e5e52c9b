//! What every invocation's trace context is decided with: the configured propagators and export
//! target (for the parent) and the sampler (for the one sampling decision).

use super::{Propagators, Sampler};
use crate::settings::ExportTarget;

/// The settings the parent and the sampling decision are made with.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRules {
    /// `OTEL_PROPAGATORS`, in order.
    pub propagators: Propagators,
    /// `LAMBDA_LENS_EXPORT_TARGET`: X-Ray keeps the Lambda X-Ray context as parent.
    pub target: ExportTarget,
    /// `OTEL_TRACES_SAMPLER`.
    pub sampler: Sampler,
}

impl Default for TraceRules {
    /// The rules with every variable unset.
    fn default() -> Self {
        Self {
            propagators: Propagators::default(),
            target: ExportTarget::default(),
            sampler: Sampler::AlwaysOn,
        }
    }
}
