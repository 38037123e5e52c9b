//! Finding an invocation's spans among what a receiver decoded, and waiting for its reports.

use std::time::Duration;

use serde_json::json;
use trace_view::{ReceivedLog, ReceivedMetric, ReceivedSpan, ReceiverHandle, SpanKind};

use lambda_lens::spans::names::semconv;

/// The invocation span (SERVER) of `request_id`; panics when there is none. Export is at least once:
/// a request retried after its answer was lost may deliver a span twice, so the first is taken.
pub fn invocation_span<'a>(spans: &'a [ReceivedSpan], request_id: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| {
            s.kind == SpanKind::Server
                && s.attributes.get(semconv::FAAS_INVOCATION_ID) == Some(&json!(request_id))
        })
        .unwrap_or_else(|| panic!("no invocation span for {request_id}: {spans:#?}"))
}

/// How a `platform.report` log record's body begins.
pub const REPORT_PREFIX: &str = "REPORT RequestId: ";

/// Waits at most `wait` until `receiver` holds `count` report log records; every log record and
/// metric it holds then.
pub async fn wait_for_reports(
    receiver: &ReceiverHandle,
    count: usize,
    wait: Duration,
) -> (Vec<ReceivedLog>, Vec<ReceivedMetric>) {
    receiver
        .wait_for_signals(
            |logs, _| {
                logs.iter()
                    .filter(|l| l.body.starts_with(REPORT_PREFIX))
                    .count()
                    == count
            },
            wait,
        )
        .await
        .unwrap_or_else(|e| panic!("{count} report records within {wait:?}: {e}"))
}
