//! Which bodies transforms may touch: only those the proxy can buffer whole without changing how
//! they reach the other side.

use super::head::{Fields, Framing};
use super::names;
use crate::transform::MAX_TRANSFORM_BYTES;

/// Whether a body may be buffered for transforms: a stated length (and no other framing) within the
/// transform limit and a JSON (or unstated) content type. Streams and large or binary bodies pass
/// through untouched.
pub(super) fn transformable(fields: &Fields, framing: Framing) -> bool {
    let length_ok = matches!(framing, Framing::Length(n) if n <= MAX_TRANSFORM_BYTES);
    let json = fields
        .get(names::CONTENT_TYPE)
        .is_none_or(|v| v.to_ascii_lowercase().windows(4).any(|w| w == b"json"));
    length_ok && json && fields.get(names::RESPONSE_MODE).is_none()
}
