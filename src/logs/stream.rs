//! Where the telemetry stream is: which invocation a log line without a `requestId` belongs to.
//!
//! The platform delivers one environment's events in order, so a text line (no `requestId`)
//! belongs to the invocation whose `platform.start` came last, until the next `platform.start` or
//! `platform.initStart` (a re-init's lines belong to no invocation). A line dated before that
//! start is not the invocation's either. When more than one invocation is running at once (Lambda
//! Managed Instances), a text line cannot be told apart and joins none.

use std::time::SystemTime;

use crate::record::RequestId;

/// Invocations remembered as running (started, no `runtimeDone` yet); a lost `runtimeDone` must
/// not grow the list, and past this many the stream is ambiguous anyway.
pub const MAX_RUNNING: usize = 64;

/// The invocation the telemetry stream is in.
#[derive(Debug, Default)]
pub struct StreamPosition {
    /// The last `platform.start`: its invocation and time.
    current: Option<(RequestId, SystemTime)>,
    /// Started and not yet done, oldest first.
    running: Vec<RequestId>,
}

impl StreamPosition {
    /// `platform.start` of `id` at `time`.
    pub fn start(&mut self, id: &RequestId, time: SystemTime) {
        self.current = Some((id.clone(), time));
        if !self.running.contains(id) {
            if self.running.len() >= MAX_RUNNING {
                self.running.remove(0);
            }
            self.running.push(id.clone());
        }
    }

    /// `platform.runtimeDone` (or `platform.report`) of `id`: its later lines (flushed output)
    /// still belong to it.
    pub fn done(&mut self, id: &RequestId) {
        self.running.retain(|r| r != id);
    }

    /// `platform.initStart`: a new init runs; its lines belong to no invocation.
    pub fn init(&mut self) {
        self.current = None;
        self.running.clear();
    }

    /// The invocation a line without a `requestId`, dated `time`, belongs to.
    pub fn owner_of(&self, time: SystemTime) -> Option<&RequestId> {
        let (id, started) = self.current.as_ref()?;
        let concurrent = self.running.len() > 1;
        (!concurrent && time >= *started).then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn t(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    #[test]
    fn lines_belong_to_the_last_start_until_the_next_one() {
        let mut stream = StreamPosition::default();
        assert_eq!(stream.owner_of(t(0)), None, "init lines");
        let (a, b) = (RequestId::new("a"), RequestId::new("b"));
        stream.start(&a, t(10));
        assert_eq!(stream.owner_of(t(11)), Some(&a));
        stream.done(&a);
        assert_eq!(
            stream.owner_of(t(20)),
            Some(&a),
            "flushed after runtimeDone"
        );
        assert_eq!(stream.owner_of(t(9)), None, "dated before the start");
        stream.start(&b, t(30));
        assert_eq!(stream.owner_of(t(31)), Some(&b));
        stream.init();
        assert_eq!(stream.owner_of(t(40)), None, "a re-init's lines");
    }

    #[test]
    fn concurrent_invocations_make_text_lines_ambiguous() {
        let mut stream = StreamPosition::default();
        let (a, b) = (RequestId::new("a"), RequestId::new("b"));
        stream.start(&a, t(10));
        stream.start(&b, t(11));
        assert_eq!(stream.owner_of(t(12)), None);
        stream.done(&a);
        assert_eq!(stream.owner_of(t(13)), Some(&b));
        for i in 0..(MAX_RUNNING * 2) {
            stream.start(&RequestId::new(format!("x{i}")), t(20));
        }
        assert_eq!(stream.running.len(), MAX_RUNNING);
    }
}
