//! The headers every OTLP request carries (`OTEL_EXPORTER_OTLP_[<SIGNAL>_]HEADERS`), checked once
//! for both transports: HTTP headers for OTLP/HTTP, gRPC metadata for OTLP/gRPC.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The configured headers as an HTTP header map; invalid names or values are skipped with a
/// warning.
pub(super) fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                map.insert(name, value);
            }
            _ => {
                tracing::warn!(header = %name, "ignoring an OTLP header that is not a valid HTTP header")
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_headers_are_skipped() {
        let map = header_map(&[
            ("x-ok".to_owned(), "1".to_owned()),
            ("bad name".to_owned(), "2".to_owned()),
            ("x-bad-value".to_owned(), "line\nbreak".to_owned()),
        ]);
        assert_eq!(map.len(), 1);
        assert_eq!(map["x-ok"], "1");
    }
}
