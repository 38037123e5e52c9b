//! The `/next` broker: no event is lost or pulled twice when a runtime leaves while its `/next` waits.
//!
//! A runtime's `/next` normally goes upstream on its own connection, inline. If the runtime leaves
//! while that call waits (it may be killed), the upstream call is *orphaned*: a task finishes it and
//! keeps the event. The next `/next` then takes a kept event, or waits for an orphaned call, instead of
//! starting a second upstream call (a second concurrent `/next` would be an invalid state transition
//! upstream).

use std::collections::VecDeque;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::head::ResponseHead;

/// Largest event kept in memory for a runtime that left (Lambda's invoke payload limit is 6 MB).
pub(crate) const MAX_KEPT_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// An upstream `/next` answer read whole: its head, its body as received, and when the head arrived.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) head: ResponseHead,
    pub(crate) body: Bytes,
    pub(crate) received_at: SystemTime,
}

/// An upstream `/next` answer, or why there is none.
pub(crate) type FetchResult = Result<Fetched, String>;

/// What a runtime's `/next` should do.
pub(crate) enum Claim {
    /// Deliver this kept event.
    Ready(Fetched),
    /// Wait for an orphaned upstream call.
    Wait(oneshot::Receiver<FetchResult>),
    /// Call upstream itself.
    Fetch,
}

/// Kept events, orphaned calls and the runtimes waiting for them.
#[derive(Default)]
pub(crate) struct Broker {
    /// Events whose runtime left, oldest first.
    ready: VecDeque<Fetched>,
    /// Runtime calls waiting for an orphaned call.
    waiting: VecDeque<oneshot::Sender<FetchResult>>,
    /// Orphaned upstream calls under way.
    orphans: usize,
}

impl Broker {
    /// Decides how a new runtime `/next` gets its event.
    pub(crate) fn claim(&mut self) -> Claim {
        if let Some(fetched) = self.ready.pop_front() {
            return Claim::Ready(fetched);
        }
        self.waiting.retain(|tx| !tx.is_closed());
        if self.orphans > self.waiting.len() {
            let (tx, rx) = oneshot::channel();
            self.waiting.push_back(tx);
            return Claim::Wait(rx);
        }
        Claim::Fetch
    }

    /// Notes an upstream call whose runtime left; [`Broker::orphan_done`] must follow.
    pub(crate) fn orphaned(&mut self) {
        self.orphans += 1;
    }

    /// An orphaned call finished; `returned` when its event had been handed out once already.
    pub(crate) fn orphan_done(&mut self, result: FetchResult, returned: bool) {
        self.orphans -= 1;
        self.offer(result, returned);
    }

    /// Hands an event to the first runtime still waiting, else keeps it for the next `/next` (at the
    /// front when it was already handed out once, to keep arrival order).
    pub(crate) fn offer(&mut self, mut result: FetchResult, returned: bool) {
        while let Some(tx) = self.waiting.pop_front() {
            match tx.send(result) {
                Ok(()) => return,
                Err(unsent) => result = unsent,
            }
        }
        match result {
            Ok(fetched) if returned => self.ready.push_front(fetched),
            Ok(fetched) => self.ready.push_back(fetched),
            Err(error) => tracing::warn!(%error, "upstream /next failed with no runtime waiting"),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::proxy::head::parse_response;

    /// A kept event for request id `id`, with an empty body.
    pub(in crate::proxy) fn fetched(id: &str) -> Fetched {
        let mut raw = BytesMut::from(
            format!("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\r\n").as_str(),
        );
        Fetched {
            head: parse_response(&mut raw, usize::MAX)
                .expect("valid")
                .expect("complete"),
            body: Bytes::new(),
            received_at: SystemTime::UNIX_EPOCH,
        }
    }

    /// The request id of a kept event.
    pub(in crate::proxy) fn id(f: &Fetched) -> String {
        let id = f.head.fields.get("lambda-runtime-aws-request-id");
        String::from_utf8_lossy(id.unwrap_or_default()).into_owned()
    }

    #[test]
    fn runtimes_fetch_themselves_unless_an_orphan_or_kept_event_exists() {
        let mut broker = Broker::default();
        assert!(matches!(broker.claim(), Claim::Fetch));
        broker.orphaned();
        let Claim::Wait(mut rx) = broker.claim() else {
            panic!("an orphaned call is adopted")
        };
        assert!(
            matches!(broker.claim(), Claim::Fetch),
            "one orphan serves one waiter"
        );
        broker.orphan_done(Ok(fetched("a")), false);
        assert_eq!(id(&rx.try_recv().expect("handed over").expect("ok")), "a");
    }

    #[test]
    fn events_of_runtimes_that_left_are_kept_in_order() {
        let mut broker = Broker::default();
        broker.orphaned();
        let Claim::Wait(rx) = broker.claim() else {
            panic!("waits for the orphan")
        };
        drop(rx);
        broker.orphan_done(Ok(fetched("b")), false);
        broker.offer(Ok(fetched("a")), true);
        let Claim::Ready(first) = broker.claim() else {
            panic!("kept event")
        };
        let Claim::Ready(second) = broker.claim() else {
            panic!("kept event")
        };
        assert_eq!((id(&first), id(&second)), ("a".into(), "b".into()));
        assert!(matches!(broker.claim(), Claim::Fetch));
    }
}
