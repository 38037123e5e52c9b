//! Which accepted results still wait for their runtime's next `/next`, and which invocation a
//! `/next` therefore ends. The platform counts an invocation's work as over when its runtime asks
//! for the next event (`runtimeDone`); the proxy sees that moment first, so the owner task can close
//! the invocation without waiting for the Telemetry API.
//!
//! A `/next` ends the invocations whose results came on the same runtime connection (under Lambda
//! Managed Instances several runtimes poll at once, each on its own connections). A runtime that
//! sends results and `/next` on different connections is matched when exactly one result waits:
//! always the case outside Managed Instances, where one invocation runs at a time.

use std::time::SystemTime;

use crate::record::{NextRecord, RequestId};

/// Accepted results waiting for a `/next`; beyond this many (runtimes that never poll again) the
/// oldest are forgotten, and their invocations close on the platform's word or the result's end.
pub(super) const MAX_AWAITING_NEXT: usize = 256;

/// One runtime connection, told apart from the others for the matching above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ConnectionId(pub(super) u64);

/// The accepted results whose runtime has not asked for its next event yet, oldest first.
#[derive(Debug, Default)]
pub(super) struct AwaitingNext {
    results: Vec<(ConnectionId, RequestId)>,
}

impl AwaitingNext {
    /// Notes that `request_id`'s result, sent on `connection`, was accepted.
    pub(super) fn accepted(&mut self, connection: ConnectionId, request_id: RequestId) {
        if self.results.len() >= MAX_AWAITING_NEXT {
            self.results.remove(0);
        }
        self.results.push((connection, request_id));
    }

    /// The invocations a `/next` on `connection` ends, oldest first, handed to `ended` (most often
    /// one, so nothing is collected); `at` is asked for only when there is one.
    pub(super) fn next(
        &mut self,
        connection: ConnectionId,
        at: impl FnOnce() -> SystemTime,
        mut ended: impl FnMut(NextRecord),
    ) {
        if self.results.is_empty() {
            return;
        }
        let at = at();
        let before = self.results.len();
        self.results.retain(|(c, request_id)| {
            let mine = *c == connection;
            if mine {
                ended(NextRecord {
                    request_id: request_id.clone(),
                    at,
                });
            }
            !mine
        });
        if self.results.len() == before && before == 1 {
            if let Some((_, request_id)) = self.results.pop() {
                ended(NextRecord { request_id, at });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;

    fn ids(records: &[NextRecord]) -> Vec<&str> {
        records.iter().map(|r| r.request_id.as_str()).collect()
    }

    /// The records a `/next` on `connection` at `at` yields.
    fn next(
        awaiting: &mut AwaitingNext,
        connection: ConnectionId,
        at: SystemTime,
    ) -> Vec<NextRecord> {
        let mut ended = Vec::new();
        awaiting.next(connection, || at, |record| ended.push(record));
        ended
    }

    #[test]
    fn a_next_ends_the_results_of_its_own_connection() {
        let mut awaiting = AwaitingNext::default();
        awaiting.accepted(ConnectionId(1), RequestId::new("a"));
        awaiting.accepted(ConnectionId(2), RequestId::new("b"));
        let ended = next(&mut awaiting, ConnectionId(2), UNIX_EPOCH);
        assert_eq!(ids(&ended), ["b"]);
        assert_eq!(ended[0].at, UNIX_EPOCH);
        assert_eq!(
            ids(&next(&mut awaiting, ConnectionId(2), UNIX_EPOCH)),
            ["a"],
            "the one result left is taken by a runtime with separate connections"
        );
        assert!(next(&mut awaiting, ConnectionId(1), UNIX_EPOCH).is_empty());
    }

    #[test]
    fn a_next_on_another_connection_guesses_only_when_one_result_waits() {
        let mut awaiting = AwaitingNext::default();
        awaiting.accepted(ConnectionId(1), RequestId::new("a"));
        awaiting.accepted(ConnectionId(2), RequestId::new("b"));
        assert!(next(&mut awaiting, ConnectionId(3), UNIX_EPOCH).is_empty());
        assert_eq!(awaiting.results.len(), 2, "nothing taken");
    }

    #[test]
    fn waiting_results_are_bounded() {
        let mut awaiting = AwaitingNext::default();
        for i in 0..(MAX_AWAITING_NEXT + 2) {
            awaiting.accepted(ConnectionId(1), RequestId::new(format!("r{i}")));
        }
        let ended = next(&mut awaiting, ConnectionId(1), UNIX_EPOCH);
        assert_eq!(ended.len(), MAX_AWAITING_NEXT);
        assert_eq!(
            ended[0].request_id.as_str(),
            "r2",
            "the oldest were forgotten"
        );
    }
}
