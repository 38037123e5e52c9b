//! The span identities of invocations between their event and their response, for response
//! transforms (which stamp the invocation's span into the response).

use std::sync::Mutex;
use std::time::SystemTime;

use super::lock;
use crate::recent::RecentMap;
use crate::record::{RequestId, SpanIdentity};

/// Invocations whose span identity is kept for response transforms (concurrent invocations).
const MAX_TRANSFORM_SPANS: usize = 1024;

/// Invocation span identities between an event and its response, bounded by
/// [`MAX_TRANSFORM_SPANS`] (only kept when a response transform is on).
pub(super) struct TransformSpans(Mutex<RecentMap<RequestId, (SpanIdentity, SystemTime)>>);

impl Default for TransformSpans {
    fn default() -> Self {
        Self(Mutex::new(RecentMap::new(MAX_TRANSFORM_SPANS)))
    }
}

impl TransformSpans {
    /// Keeps the span of invocation `id` (whose event arrived at `received_at`), dropping the oldest
    /// when full.
    pub(super) fn remember(&self, id: RequestId, span: SpanIdentity, received_at: SystemTime) {
        lock(&self.0).insert(id, (span, received_at));
    }

    /// Takes the span kept for invocation `id`, with its event's arrival time.
    pub(super) fn take(&self, id: &RequestId) -> Option<(SpanIdentity, SystemTime)> {
        lock(&self.0).take(id)
    }
}
