//! The differential oracle of the `http_head` and `body_framing` targets: for every message the
//! proxy accepts, the reference parser must accept it too and agree on where the head ends, the
//! framing, and where the body ends, whatever reads the bytes arrive in.

use lambda_lens::fuzzing::{self, BodyEnd, BodyFraming, MessageKind, RelayView};

use crate::reference::{self, End, Framing, Kind, Refusal};

/// The message kind the input's first byte chooses, and the message.
fn split_kind(data: &[u8]) -> Option<(MessageKind, &[u8])> {
    let (&first, message) = data.split_first()?;
    Some((
        if first & 1 == 0 {
            MessageKind::Request
        } else {
            MessageKind::Response
        },
        message,
    ))
}

/// The proxy's head and framing agree with the reference for every head the proxy accepts.
pub fn http_head(data: &[u8]) {
    let Some((kind, message)) = split_kind(data) else {
        return;
    };
    if let Some(view) = fuzzing::relay_view(kind, message, &[]) {
        agree_on_head(kind, message, view);
    }
}

/// As [`http_head`], and the body ends where the reference ends it, in any reads.
pub fn body_framing(data: &[u8]) {
    let Some((kind, message)) = split_kind(data) else {
        return;
    };
    let Some(view) = fuzzing::relay_view(kind, message, &[]) else {
        return;
    };
    let expected = agree_on_head(kind, message, view);
    match (view.body, expected.end) {
        (BodyEnd::Refused, _) => {}
        (BodyEnd::At(a), End::At(b)) if a == b => {}
        (BodyEnd::Waiting(_), End::Waiting) => {}
        // Waiting on a unit the reference refuses is no divergence as long as the proxy validated
        // (and so relayed) nothing from it: it refuses the unit once it is whole.
        (BodyEnd::Waiting(validated), End::Invalid(at, _)) if validated <= at => {}
        (proxy, reference) => panic!(
            "the body's end differs: proxy {proxy:?}, reference {reference:?} ({:?})",
            String::from_utf8_lossy(message)
        ),
    }
    let splits = fuzzing::split_points(message, 6);
    let in_pieces = fuzzing::relay_view(kind, message, &splits);
    assert_eq!(
        in_pieces,
        Some(view),
        "reads cut at {splits:?} change the proxy's view"
    );
}

/// Fails unless the reference accepts the head the proxy accepted, with the same length and
/// framing; the reference's view of the message.
fn agree_on_head(kind: MessageKind, message: &[u8], view: RelayView) -> reference::Message {
    let reference_kind = match kind {
        MessageKind::Request => Kind::Request,
        MessageKind::Response => Kind::Response,
    };
    let parsed = match reference::parse(reference_kind, message) {
        Ok(parsed) => parsed,
        Err(Refusal::Invalid(why)) => panic!(
            "the proxy accepts a head the reference refuses ({why}): {:?}",
            String::from_utf8_lossy(message)
        ),
        Err(Refusal::Incomplete) => panic!(
            "the proxy ends a head the reference has not seen end: {:?}",
            String::from_utf8_lossy(message)
        ),
    };
    assert_eq!(view.head_len, parsed.head_len, "the head ends elsewhere");
    let framing = match view.framing {
        BodyFraming::Empty => Framing::Empty,
        BodyFraming::Length(n) => Framing::Length(n),
        BodyFraming::Chunked => Framing::Chunked,
        BodyFraming::UntilClose => Framing::UntilClose,
    };
    assert_eq!(framing, parsed.framing, "the framing differs");
    parsed
}
