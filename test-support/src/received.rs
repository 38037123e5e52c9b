//! Finding an invocation's spans among what a receiver decoded.

use serde_json::json;
use trace_view::{ReceivedSpan, SpanKind};

use lambda_lens::spans::names::semconv;

/// The one invocation span (SERVER) of `request_id`; panics when there is none or more than one.
pub fn invocation_span<'a>(spans: &'a [ReceivedSpan], request_id: &str) -> &'a ReceivedSpan {
    let found: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| {
            s.kind == SpanKind::Server
                && s.attributes.get(semconv::FAAS_INVOCATION_ID) == Some(&json!(request_id))
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one invocation span for {request_id}: {spans:#?}"
    );
    found[0]
}
