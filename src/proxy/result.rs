//! Results (`/response`, `/error`, `/init/error`): their record, and a response replaced by the
//! response transforms when the invocation's span was kept for it; then the call is relayed.

use std::time::SystemTime;

use bytes::Bytes;

use super::head::{Framing, RequestHead};
use super::lock;
use super::records::result_record;
use super::session::{KeepAlive, Session};
use super::transformable::transformable;
use super::wire::Bounded;
use crate::capture::capture_whole;
use crate::record::{PendingRecord, RequestId, ResultKind};
use crate::transform::{Direction, TransformContext, MAX_TRANSFORM_BYTES};

impl Session {
    /// Relays a result call `kind` for `request_id` and records it.
    pub(super) async fn result(
        &mut self,
        req: &RequestHead,
        framing: Framing,
        kind: ResultKind,
        request_id: Option<RequestId>,
    ) -> KeepAlive {
        let shared = &self.shared;
        let mut record = PendingRecord::new(
            result_record(
                req,
                kind,
                request_id,
                shared.capture_bytes,
                &mut self.repeated,
            ),
            shared.records.clone(),
        );
        let remembered = match (&kind, &record.request_id) {
            (ResultKind::Response, Some(id))
                if shared.transforms.any(Direction::Response)
                    && transformable(&req.fields, framing)
                    && !req.expects_continue() =>
            {
                shared.transform_spans.take(id)
            }
            _ => None,
        };
        let replacement = match remembered {
            Some((span, received_at)) => {
                let limit = Bounded::new(MAX_TRANSFORM_BYTES as usize);
                let bytes = match self.rt.read_body(framing, limit).await {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        tracing::debug!(error = %e, "a runtime's response could not be read");
                        record.body.complete = false;
                        return false;
                    }
                };
                let ctx = TransformContext {
                    sampled: span.choice.sampled(&shared.trace_rules.sampler),
                    span,
                    received_at,
                    now: SystemTime::now(),
                };
                let bytes = shared
                    .transforms
                    .apply(Direction::Response, &bytes, &ctx)
                    .map_or(bytes, Bytes::from);
                record.body = capture_whole(&bytes, shared.capture_bytes);
                Some(bytes)
            }
            None => None,
        };
        let keep_alive = self
            .relay(req, framing, Some(&mut record), replacement)
            .await;
        if let (true, Some(id)) = (record.accepted(), &record.request_id) {
            lock(&self.shared.awaiting_next).accepted(self.id, id.clone());
        }
        keep_alive
    }
}
