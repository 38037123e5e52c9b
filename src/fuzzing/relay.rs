//! The proxy's view of one message's bytes, as its relay reads them: where the head ends, how
//! the body is framed and where the body ends, with the bytes arriving in any number of reads.

use bytes::BytesMut;

use crate::capture::Tap;
use crate::proxy::chunked::Chunked;
use crate::proxy::head::{self, Framing};
use crate::proxy::MAX_HEAD_BYTES;

/// Which side sent the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A request from the runtime.
    Request,
    /// A response from the upstream (to a request other than `HEAD`).
    Response,
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    Empty,
    /// This many bytes.
    Length(u64),
    /// Chunked, through the trailer section.
    Chunked,
    /// Until the connection closes.
    UntilClose,
}

/// Where the body ended in the bytes given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEnd {
    /// At this offset from the start of the message.
    At(usize),
    /// Not within the bytes given: more are needed; the bytes validated (and so relayed) end at
    /// this offset from the start of the message.
    Waiting(usize),
    /// The body's framing was refused.
    Refused,
}

/// What the proxy made of a message whose head it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayView {
    /// The head's length, from the message's first byte through its empty line.
    pub head_len: usize,
    /// The body's framing.
    pub framing: BodyFraming,
    /// Where the body ended.
    pub body: BodyEnd,
}

/// The proxy's view of `message` delivered in reads cut at `splits` (ascending offsets); `None`
/// when the head is refused or incomplete. The bytes after the body's end are left alone, as the
/// relay leaves a pipelined message.
pub fn relay_view(kind: MessageKind, message: &[u8], splits: &[usize]) -> Option<RelayView> {
    let (head_len, framing) = head_framing(kind, message)?;
    let body = &message[head_len..];
    let end = match framing {
        Framing::Empty => BodyEnd::At(0),
        Framing::Length(n) => usize::try_from(n)
            .ok()
            .filter(|&n| n <= body.len())
            .map_or(BodyEnd::Waiting(body.len()), BodyEnd::At),
        Framing::UntilClose => BodyEnd::At(body.len()),
        Framing::Chunked => chunked_end(
            body,
            splits.iter().filter_map(|&at| at.checked_sub(head_len)),
        ),
    };
    Some(RelayView {
        head_len,
        framing: match framing {
            Framing::Empty => BodyFraming::Empty,
            Framing::Length(n) => BodyFraming::Length(n),
            Framing::Chunked => BodyFraming::Chunked,
            Framing::UntilClose => BodyFraming::UntilClose,
        },
        body: match end {
            BodyEnd::At(n) => BodyEnd::At(head_len + n),
            BodyEnd::Waiting(n) => BodyEnd::Waiting(head_len + n),
            other => other,
        },
    })
}

/// The head's length and framing, when the proxy accepts the head as its relay does.
fn head_framing(kind: MessageKind, message: &[u8]) -> Option<(usize, Framing)> {
    let mut buf = BytesMut::from(message);
    let framing = match kind {
        MessageKind::Request => {
            let head = head::parse_request(&mut buf, MAX_HEAD_BYTES).ok()??;
            head.check_host().ok()?;
            head.framing().ok()?
        }
        MessageKind::Response => {
            let head = head::parse_response(&mut buf, MAX_HEAD_BYTES).ok()??;
            head.framing(false).ok()?
        }
    };
    Some((message.len() - buf.len(), framing))
}

/// Where a chunked `body` ends when its bytes arrive in reads cut at `cuts`, scanned as the relay
/// scans them: what one scan validated is taken out, the rest waits for the next read.
fn chunked_end(body: &[u8], cuts: impl Iterator<Item = usize>) -> BodyEnd {
    let mut scan = Chunked::new();
    let mut tap = Tap::new(0);
    let mut done = 0;
    for read_end in cuts
        .filter(|&at| at > 0 && at < body.len())
        .chain([body.len()])
    {
        if read_end < done {
            continue;
        }
        match scan.scan(&body[done..read_end], &mut tap) {
            Err(_) => return BodyEnd::Refused,
            Ok((n, true)) => return BodyEnd::At(done + n),
            Ok((n, false)) => done += n,
        }
    }
    BodyEnd::Waiting(done)
}
