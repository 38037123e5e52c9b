//! Everything no other source recognises: direct invocations, asynchronous-invocation destination
//! records, WebSocket APIs (no HTTP request per message), non-JSON and empty events.

use super::{EventSource, Trigger};

/// Any other event.
pub(super) struct Other;

impl EventSource for Other {
    fn trigger(&self) -> Trigger {
        Trigger::Other
    }
}
