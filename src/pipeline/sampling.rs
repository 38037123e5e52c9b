//! Which closed invocations become spans: the sampler decides per invocation, and the decision is
//! remembered (bounded) so that a `platform.report` arriving after its invocation was dropped is
//! dropped too instead of becoming an orphaned span.

use crate::recent::RecentMap;
use crate::record::RequestId;
use crate::trace_context::{ParentChoice, Sampler};

/// Unsampled invocations remembered, so their late reports are dropped too.
const MAX_REMEMBERED_UNSAMPLED: usize = 256;

/// The sampler and the invocations it dropped.
#[derive(Debug)]
pub(super) struct Sampling {
    sampler: Sampler,
    unsampled: RecentMap<RequestId, ()>,
}

impl Sampling {
    /// Decides with `sampler`.
    pub(super) fn new(sampler: Sampler) -> Self {
        Self {
            sampler,
            unsampled: RecentMap::new(MAX_REMEMBERED_UNSAMPLED),
        }
    }

    /// Whether the closed invocation `request_id` with parent `parent` is recorded: the same
    /// decision the proxy stated in a `traceparent` it handed to the function.
    pub(super) fn records_invocation(
        &mut self,
        request_id: &RequestId,
        parent: &ParentChoice,
    ) -> bool {
        let sampled = parent.sampled(&self.sampler);
        if !sampled {
            self.unsampled.insert(request_id.clone(), ());
        }
        sampled
    }

    /// Whether a report that arrived after `request_id` was closed is recorded: not when the
    /// invocation itself was dropped.
    pub(super) fn records_late_report(&self, request_id: &RequestId) -> bool {
        !self.unsampled.contains_key(request_id)
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    const SAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const NOT_SAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad8;Sampled=0";

    fn trace(header: &str) -> ParentChoice {
        ParentChoice::lambda(Some(header), SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn late_reports_of_dropped_invocations_are_dropped_too() {
        let mut sampling = Sampling::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        let (kept, dropped) = (RequestId::new("kept"), RequestId::new("dropped"));
        assert!(sampling.records_invocation(&kept, &trace(SAMPLED)));
        assert!(!sampling.records_invocation(&dropped, &trace(NOT_SAMPLED)));
        assert!(sampling.records_late_report(&kept));
        assert!(!sampling.records_late_report(&dropped));
        assert!(
            sampling.records_late_report(&RequestId::new("never seen")),
            "a report of an invocation closed before this process started is not judged here"
        );
    }

    #[test]
    fn the_memory_of_dropped_invocations_is_bounded() {
        let mut sampling = Sampling::new(Sampler::AlwaysOff);
        let first = RequestId::new("0");
        for i in 0..=MAX_REMEMBERED_UNSAMPLED {
            assert!(!sampling.records_invocation(&RequestId::new(i.to_string()), &trace(SAMPLED)));
        }
        assert!(
            sampling.records_late_report(&first),
            "forgotten: the oldest"
        );
        assert!(!sampling.records_late_report(&RequestId::new("1")));
    }
}
