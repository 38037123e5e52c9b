//! Capture: what the proxy keeps of a body while relaying it. The bytes themselves are forwarded as
//! they arrive, unchanged and unbuffered; a [`Tap`] only counts them, keeps the first `limit` bytes
//! and the trailers, and notes when the first byte passed. A tap told what a body usually holds
//! (see [`Tap::expecting`]) shares those bytes when they come again instead of copying them.

use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;

use crate::event::{BatchWatch, RecordScan};
use crate::record::BodyCapture;

/// The leading bytes a tap keeps.
#[derive(Debug)]
enum Kept {
    /// The first `len` bytes of `expected`, all seen so far: nothing copied yet.
    Expected { expected: Bytes, len: usize },
    /// A copy of what was seen.
    Copied(BytesMut),
}

impl Kept {
    fn len(&self) -> usize {
        match self {
            Self::Expected { len, .. } => *len,
            Self::Copied(copy) => copy.len(),
        }
    }

    /// Keeps `part`, which follows what is kept.
    fn extend(&mut self, part: &[u8]) {
        match self {
            Self::Expected { expected, len } => {
                if expected.get(*len..*len + part.len()) == Some(part) {
                    *len += part.len();
                } else {
                    let mut copy = BytesMut::new();
                    copy.extend_from_slice(&expected[..*len]);
                    copy.extend_from_slice(part);
                    *self = Self::Copied(copy);
                }
            }
            Self::Copied(copy) => copy.extend_from_slice(part),
        }
    }

    fn freeze(self) -> Bytes {
        match self {
            Self::Expected { expected, len } => expected.slice(..len),
            Self::Copied(copy) => copy.freeze(),
        }
    }
}

/// Observes one body as it streams through the proxy.
#[derive(Debug)]
pub struct Tap {
    limit: usize,
    head: Kept,
    size: u64,
    first_byte_at: Option<SystemTime>,
    trailers: Option<HeaderMap>,
    batch: Option<BatchWatch>,
}

impl Tap {
    /// A tap keeping at most `limit` leading bytes.
    pub fn new(limit: usize) -> Self {
        Self::expecting(limit, Bytes::new())
    }

    /// A tap keeping at most `limit` leading bytes, which shares the leading bytes of `expected`
    /// while the body repeats them (a body that repeats its predecessor's costs no copy).
    pub fn expecting(limit: usize, expected: Bytes) -> Self {
        Self {
            limit,
            head: Kept::Expected { expected, len: 0 },
            size: 0,
            first_byte_at: None,
            trailers: None,
            batch: None,
        }
    }

    /// A tap for an event body that also reads its records when it is a batch.
    pub fn watching_batches(limit: usize) -> Self {
        Self {
            batch: Some(BatchWatch::new()),
            ..Self::new(limit)
        }
    }

    /// Notes body bytes that just passed.
    pub fn observe(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.first_byte_at.is_none() {
            self.first_byte_at = Some(SystemTime::now());
        }
        self.size += data.len() as u64;
        let room = self.limit - self.head.len();
        if room > 0 {
            self.head.extend(&data[..room.min(data.len())]);
        }
        if let Some(batch) = &mut self.batch {
            batch.observe(data);
        }
    }

    /// Notes the trailers that ended a chunked body.
    pub fn set_trailers(&mut self, trailers: HeaderMap) {
        self.trailers = Some(trailers);
    }

    /// What the records of a batch held, for a tap [watching batches](Self::watching_batches).
    pub fn take_records(&mut self) -> Option<RecordScan> {
        self.batch.take().and_then(BatchWatch::finish)
    }

    /// What was seen, `complete` when the body ended normally; and the trailers.
    pub fn finish(self, complete: bool) -> (BodyCapture, Option<HeaderMap>) {
        let capture = BodyCapture {
            size: self.size,
            head: self.head.freeze(),
            complete,
            first_byte_at: self.first_byte_at,
            ended_at: Some(SystemTime::now()),
        };
        (capture, self.trailers)
    }
}

/// The capture of a body that was buffered whole (for transforms): the same shape a tap reports.
pub fn capture_whole(bytes: &Bytes, limit: usize) -> BodyCapture {
    let now = SystemTime::now();
    BodyCapture {
        size: bytes.len() as u64,
        head: bytes.slice(..bytes.len().min(limit)),
        complete: true,
        first_byte_at: (!bytes.is_empty()).then_some(now),
        ended_at: Some(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_keeps_the_first_bytes_and_counts_all() {
        let mut tap = Tap::new(4);
        tap.observe(b"");
        tap.observe(b"abc");
        tap.observe(b"defg");
        let (capture, trailers) = tap.finish(true);
        assert_eq!(capture.size, 7);
        assert_eq!(&capture.head[..], b"abcd");
        assert!(capture.truncated() && capture.complete);
        assert!(capture.first_byte_at <= capture.ended_at);
        assert!(trailers.is_none());
    }

    #[test]
    fn an_expecting_tap_shares_what_repeats_and_copies_what_does_not() {
        let expected = Bytes::from_static(b"{\"status\":\"OK\"}");
        let mut same = Tap::expecting(1024, expected.clone());
        same.observe(b"{\"status\"");
        same.observe(b":\"OK\"}");
        let (capture, _) = same.finish(true);
        assert_eq!(&capture.head[..], b"{\"status\":\"OK\"}");
        assert_eq!(capture.head.as_ptr(), expected.as_ptr());

        let mut shorter = Tap::expecting(1024, expected.clone());
        shorter.observe(b"{\"sta");
        let (capture, _) = shorter.finish(false);
        assert_eq!((&capture.head[..], capture.size), (&b"{\"sta"[..], 5));

        let mut other = Tap::expecting(8, expected.clone());
        other.observe(b"{\"stat");
        other.observe(b"e\":1}");
        let (capture, _) = other.finish(true);
        assert_eq!((&capture.head[..], capture.size), (&b"{\"state\""[..], 11));

        let mut longer = Tap::expecting(1024, expected);
        longer.observe(b"{\"status\":\"OK\"}!");
        assert_eq!(&longer.finish(true).0.head[..], b"{\"status\":\"OK\"}!");
    }
}
