//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through its target's
//! function, the same function the `fuzz/` crate's libFuzzer targets call: the short fuzz pass of
//! `make test`. The HTTP targets' reference parser and oracle are the fuzz crate's own files.

use std::fs;
use std::path::Path;

use lambda_lens::fuzzing;

#[path = "../fuzz/src/differential.rs"]
mod differential;
#[path = "../fuzz/src/reference.rs"]
mod reference;

/// Runs `target` on every file of `fuzz/corpus/<name>/`; the number of files.
fn replay(name: &str, target: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| target(&data));
        assert!(outcome.is_ok(), "{name}: {} fails", path.display());
        count += 1;
    }
    assert!(count > 0, "{name}: an empty corpus");
    count
}

#[test]
fn http_head_corpus() {
    replay("http_head", differential::http_head);
}

#[test]
fn body_framing_corpus() {
    replay("body_framing", differential::body_framing);
}

#[test]
fn telemetry_batch_corpus() {
    replay("telemetry_batch", fuzzing::telemetry_batch);
}

#[test]
fn xray_header_corpus() {
    replay("xray_header", fuzzing::xray_header);
}

#[test]
fn runtime_api_endpoint_corpus() {
    replay("runtime_api_endpoint", fuzzing::runtime_api_endpoint);
}

#[test]
fn redaction_corpus() {
    replay("redaction", fuzzing::redaction);
}

#[test]
fn transforms_corpus() {
    replay("transforms", fuzzing::transforms);
}

#[test]
fn record_scanner_corpus() {
    replay("record_scanner", fuzzing::record_scanner);
}
