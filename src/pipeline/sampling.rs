//! Which closed invocations become spans: the sampler decides per invocation, and the decision is
//! remembered (bounded) so that the log records that follow the close state it in their trace
//! flags.

use crate::recent::RecentMap;
use crate::record::RequestId;
use crate::trace_context::{ParentChoice, Sampler};

/// Unsampled invocations remembered, so their later log records say so.
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

    /// Whether the closed invocation `request_id` was recorded (unknown ones count as recorded).
    pub(super) fn was_recorded(&self, request_id: &RequestId) -> bool {
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
    fn dropped_invocations_are_remembered() {
        let mut sampling = Sampling::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        let (kept, dropped) = (RequestId::new("kept"), RequestId::new("dropped"));
        assert!(sampling.records_invocation(&kept, &trace(SAMPLED)));
        assert!(!sampling.records_invocation(&dropped, &trace(NOT_SAMPLED)));
        assert!(sampling.was_recorded(&kept));
        assert!(!sampling.was_recorded(&dropped));
        assert!(
            sampling.was_recorded(&RequestId::new("never seen")),
            "an invocation closed before this process started is not judged here"
        );
    }

    #[test]
    fn the_memory_of_dropped_invocations_is_bounded() {
        let mut sampling = Sampling::new(Sampler::AlwaysOff);
        let first = RequestId::new("0");
        for i in 0..=MAX_REMEMBERED_UNSAMPLED {
            assert!(!sampling.records_invocation(&RequestId::new(i.to_string()), &trace(SAMPLED)));
        }
        assert!(sampling.was_recorded(&first), "forgotten: the oldest");
        assert!(!sampling.was_recorded(&RequestId::new("1")));
    }
}
