//! The span identities of invocations between their event and their response, for response
//! transforms (which stamp the invocation's span into the response).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

use super::lock;
use crate::record::{RequestId, SpanIdentity};

/// Invocations whose span identity is kept for response transforms (concurrent invocations).
const MAX_TRANSFORM_SPANS: usize = 1024;

/// Invocation span identities between an event and its response, bounded by
/// [`MAX_TRANSFORM_SPANS`] (only kept when a response transform is on).
#[derive(Default)]
pub(super) struct TransformSpans(Mutex<VecDeque<(RequestId, SpanIdentity, SystemTime)>>);

impl TransformSpans {
    /// Keeps the span of invocation `id` (whose event arrived at `received_at`), dropping the oldest
    /// when full.
    pub(super) fn remember(&self, id: RequestId, span: SpanIdentity, received_at: SystemTime) {
        let mut spans = lock(&self.0);
        if spans.len() >= MAX_TRANSFORM_SPANS {
            spans.pop_front();
        }
        spans.push_back((id, span, received_at));
    }

    /// Takes the span kept for invocation `id`, with its event's arrival time.
    pub(super) fn take(&self, id: &RequestId) -> Option<(SpanIdentity, SystemTime)> {
        let mut spans = lock(&self.0);
        let at = spans.iter().position(|(i, _, _)| i == id)?;
        spans.remove(at).map(|(_, span, t)| (span, t))
    }
}
