//! Fuzz targets for the parsers of small documents: Telemetry API batches, trace headers, the
//! Runtime API address, and the record scanner over events fed in pieces.

use std::time::{Duration, SystemTime};

use crate::event::RecordScanner;
use crate::settings::RuntimeApiEndpoint;
use crate::telemetry::parse_batch;
use crate::trace_context::{TraceContext, Traceparent, XRayHeader};

/// `parse_batch` accounts for every element: each is an event or counted as skipped, and a body
/// that is not an array is one skipped element.
pub fn telemetry_batch(data: &[u8]) {
    let (events, skipped) = parse_batch(data);
    let elements = match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(serde_json::Value::Array(elements)) => elements.len(),
        _ => {
            assert!(
                events.is_empty() && skipped == 1,
                "not an array: {skipped} skipped"
            );
            return;
        }
    };
    assert_eq!(events.len() + skipped, elements, "elements lost");
}

/// An X-Ray header parses into a context without failing, and a `traceparent` that parses writes
/// back to a value that parses to the same context.
pub fn xray_header(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let header = XRayHeader::parse(&text);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    TraceContext::from_xray_header(Some(&text), now);
    if let Some(root) = &header.root {
        assert!(
            text.contains(root.as_str()),
            "root {root:?} not in the header"
        );
    }
    if let Some(traceparent) = Traceparent::parse(&text) {
        let written = traceparent.to_string();
        assert_eq!(Traceparent::parse(&written), Some(traceparent), "{written}");
    }
}

/// An accepted `AWS_LAMBDA_RUNTIME_API` value writes back to an address that parses the same.
pub fn runtime_api_endpoint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(endpoint) = RuntimeApiEndpoint::parse(text) else {
        return;
    };
    let again = RuntimeApiEndpoint::parse(&endpoint.to_string())
        .unwrap_or_else(|e| panic!("{endpoint} no longer parses: {e}"));
    assert_eq!(again.authority(), endpoint.authority());
    assert_eq!(again.base_path(), endpoint.base_path());
    let uri = endpoint.uri("/2018-06-01/runtime/invocation/next");
    assert_eq!(uri.authority(), Some(endpoint.authority()));
}

/// The record scanner finds the same records whatever pieces the event arrives in.
pub fn record_scanner(data: &[u8]) {
    let whole = RecordScanner::scan(data);
    let mut scanner = RecordScanner::new();
    let mut from = 0;
    for at in super::split_points(data, 8).into_iter().chain([data.len()]) {
        scanner.feed(&data[from..at]);
        from = at;
    }
    assert_eq!(scanner.finish(), whole, "pieces and whole disagree");
}
