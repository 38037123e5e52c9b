//! The fuzz entry points: one function per fuzz target, each taking the fuzzer's bytes and
//! panicking when a property of the code under test fails. The `fuzz/` crate's targets call them,
//! and so does the main test suite, which replays every committed corpus file through them.
//! Everything the targets need from the crate's internals passes through this module alone.

mod bodies;
mod documents;
mod relay;

pub use self::bodies::{example_context, redaction, transforms, SEEDED_SECRETS};
pub use self::documents::{record_scanner, runtime_api_endpoint, telemetry_batch, xray_header};
pub use self::relay::{relay_view, BodyEnd, BodyFraming, MessageKind, RelayView};

/// Cut points in `data` chosen by its own bytes (at most `max` of them, ascending, each within
/// `data`): how the targets split one input into reads.
pub fn split_points(data: &[u8], max: usize) -> Vec<usize> {
    if data.is_empty() {
        return Vec::new();
    }
    let mut points: Vec<usize> = data
        .iter()
        .rev()
        .take(max)
        .map(|&b| usize::from(b) * data.len() / 256)
        .collect();
    points.sort_unstable();
    points.dedup();
    points
}
