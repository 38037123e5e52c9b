//! The flush policy every signal's queue is sent with, before the lifecycle loop calls
//! `/extension/event/next` (after which the sandbox freezes).
//!
//! - **Time budget.** A flush takes at most `min(budget, flush_timeout)`: callers pass the time
//!   they can afford (e.g. what is left before a SHUTDOWN deadline) and the configured flush
//!   timeout (`LAMBDA_LENS_FLUSH_TIMEOUT_MS`) is applied here, in one place. The [`Deadline`] is
//!   fixed when the flush starts; every signal flushed in it shares it.
//! - **Deadline rule.** Batches go out one at a time, oldest first; the request in flight when
//!   the deadline passes is cancelled, and no request starts after it.
//! - **Kept at the front.** Items leave their queue only once the target acknowledged them: after
//!   an error, at the deadline, or when the flush's future is dropped, they stay at the front, in
//!   order, and go out with the next flush (the next thaw, or SHUTDOWN).
//! - **Dropped for good.** A batch the target refuses as such (an HTTP 4xx that retrying cannot
//!   fix, see [`rejected_for_good`]) would block the queue forever if kept: it is dropped, counted
//!   with the queue's drops and warned about, and the flush goes on with the next batch.
//! - **No retry within a flush.** The exporters' own retries are disabled: a retry inside a flush
//!   would spend the budget the invocation is waiting on, and the queue already retries at the
//!   next flush.
//!
//! A signal takes part by implementing [`BatchExport`] for its items (traces today, in
//! `traces`); the loop, the deadline and the rejection rule are the same for all of them.

use std::future::Future;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use tokio::time::Instant;

use super::queue::Queue;

/// What one flush did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushOutcome {
    /// Items (spans) the target acknowledged.
    pub exported: usize,
    /// Items still queued afterwards (for the next flush); zero after a complete flush.
    pub requeued: usize,
    /// Why the flush stopped early: the export error, or that the budget ran out.
    pub error: Option<String>,
    /// How long the flush took.
    pub elapsed: Duration,
}

/// When a flush must be done: `min(budget, flush_timeout)` after it started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    started: Instant,
    budget: Duration,
}

impl Deadline {
    /// Starts a flush now that may take `budget`, capped by the configured `flush_timeout`.
    pub(crate) fn start(budget: Duration, flush_timeout: Duration) -> Self {
        Self {
            started: Instant::now(),
            budget: budget.min(flush_timeout),
        }
    }

    fn at(&self) -> Instant {
        self.started + self.budget
    }
}

/// How one signal's queued items are cut into requests and sent.
///
/// Implemented for spans by `traces`. Metrics and logs implement it with their own items and
/// request limits, and are flushed with [`drain`] under the same [`Deadline`].
pub(crate) trait BatchExport {
    /// What the signal's queue holds: a span today.
    type Item: Clone;

    /// How many items from the front of `queued` the next request takes: at least one, and at
    /// most what the target accepts in one request.
    fn batch_len(&self, queued: &Queue<Self::Item>) -> usize;

    /// Sends one request holding `batch`.
    fn send(&self, batch: Vec<Self::Item>) -> impl Future<Output = OTelSdkResult> + Send;

    /// Warns that the target refused `count` items for good (they are dropped), in the signal's
    /// words.
    fn warn_rejected(&self, count: usize, error: &str);
}

/// Sends `queue` through `export`, batch by batch, until it is empty, a request fails (other than
/// by a refusal for good) or the `deadline` passes, following the policy of the module
/// documentation.
pub(crate) async fn drain<E: BatchExport>(
    export: &E,
    queue: &mut Queue<E::Item>,
    deadline: Deadline,
) -> FlushOutcome {
    let mut exported = 0;
    let mut error = None;
    while !queue.is_empty() {
        let count = export.batch_len(queue);
        let sent = tokio::time::timeout_at(deadline.at(), export.send(queue.front(count))).await;
        match sent {
            Ok(Ok(())) => {
                queue.remove_sent(count);
                exported += count;
            }
            Ok(Err(export_error)) => {
                let text = export_error.to_string();
                if rejected_for_good(&text) {
                    queue.drop_rejected(count);
                    export.warn_rejected(count, &text);
                    error = Some(text);
                    continue;
                }
                error = Some(text);
                break;
            }
            Err(_elapsed) => {
                error = Some(format!(
                    "export did not finish within {:?}",
                    deadline.budget
                ));
                break;
            }
        }
    }
    FlushOutcome {
        exported,
        requeued: queue.len(),
        error,
        elapsed: deadline.started.elapsed(),
    }
}

/// Whether an export error is an HTTP 4xx answer that retrying cannot fix: a malformed or oversized
/// request. Not 408 and 429 (come back later), nor 401 and 403 (credentials or permissions, fixed by
/// configuration, after which the queue should drain). opentelemetry-otlp reports answers as
/// "... status code: NNN".
fn rejected_for_good(error: &str) -> bool {
    let Some(at) = error.find("status code: ") else {
        return false;
    };
    let code: String = error[at + "status code: ".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    matches!(code.parse::<u16>(), Ok(c) if (400..500).contains(&c) && ![401, 403, 408, 429].contains(&c))
}

#[cfg(test)]
mod tests {
    use super::rejected_for_good;

    #[test]
    fn only_permanent_http_rejections_drop_a_batch() {
        for (text, drop) in [
            ("HTTP export failed with status code: 400", true),
            (
                "Operation failed: HTTP export failed with status code: 413",
                true,
            ),
            ("HTTP export failed with status code: 429", false),
            ("HTTP export failed with status code: 408", false),
            ("HTTP export failed with status code: 403", false),
            ("HTTP export failed with status code: 503", false),
            ("HTTP export failed: network error", false),
            ("export did not finish within 500ms", false),
        ] {
            assert_eq!(rejected_for_good(text), drop, "{text}");
        }
    }
}
