//! OTLP/HTTP: answers `POST` requests to the traces, metrics and logs paths with protobuf or JSON
//! bodies, optionally gzip-compressed, and records what they carried.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Read as _;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde::de::DeserializeOwned;

use crate::model::{spans_from_request, RequestInfo, RequestOutcome, Transport};
use crate::signals::{logs_from_request, metrics_from_request};
use crate::store::{
    unix_nanos_now, Admission, Shared, REFUSED_MESSAGE, REJECTED_MESSAGE, THROTTLED_MESSAGE,
    THROTTLE_RETRY_AFTER_S,
};

/// The OTLP/HTTP path for traces.
pub(crate) const TRACES_PATH: &str = "/v1/traces";
/// The OTLP/HTTP path for metrics.
pub(crate) const METRICS_PATH: &str = "/v1/metrics";
/// The OTLP/HTTP path for logs.
pub(crate) const LOGS_PATH: &str = "/v1/logs";

/// Which signal a request carries, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Traces,
    Metrics,
    Logs,
}

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";
/// Settings of the HTTP side that come from [`ReceiverConfig`](crate::ReceiverConfig).
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub(crate) extra_path: Option<String>,
    pub(crate) max_body_bytes: usize,
}

/// The body encoding of a request, which the response mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

/// Handles one HTTP request. Never fails: every problem becomes an HTTP error status.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    settings: Arc<HttpSettings>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let arrival_unix_nanos = unix_nanos_now();
    let path = request.uri().path().to_owned();
    let signal = if path.ends_with(TRACES_PATH) || settings.extra_path.as_deref() == Some(&path) {
        Signal::Traces
    } else if path.ends_with(METRICS_PATH) {
        Signal::Metrics
    } else if path.ends_with(LOGS_PATH) {
        Signal::Logs
    } else {
        return Ok(plain(StatusCode::NOT_FOUND, "not an OTLP path"));
    };
    if request.method() != Method::POST {
        return Ok(plain(StatusCode::METHOD_NOT_ALLOWED, "use POST"));
    }

    let (parts, body) = request.into_parts();
    let mut info = RequestInfo {
        transport: Transport::Http,
        path,
        content_type: header_text(&parts.headers, CONTENT_TYPE),
        content_encoding: header_text(&parts.headers, CONTENT_ENCODING),
        headers: headers_map(&parts.headers),
        arrival_unix_nanos,
        span_count: 0,
        outcome: RequestOutcome::Accepted,
    };
    let format = match info.content_type.as_deref().map(media_type) {
        // OTLP/HTTP senders must set a content type, but protobuf is the only sensible guess.
        None => Format::Protobuf,
        Some(PROTOBUF | "application/protobuf") => Format::Protobuf,
        Some(JSON) => Format::Json,
        Some(other) => {
            let reason = format!("unsupported content-type {other:?}");
            return Ok(reject(
                &shared,
                info,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                reason,
            ));
        }
    };

    let body = match Limited::new(body, settings.max_body_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            let reason = format!("could not read the body: {error}");
            return Ok(reject(&shared, info, StatusCode::BAD_REQUEST, reason));
        }
    };
    let raw = match decompress(
        info.content_encoding.as_deref(),
        &body,
        settings.max_body_bytes,
    ) {
        Ok(raw) => raw,
        Err(reason) => return Ok(reject(&shared, info, StatusCode::BAD_REQUEST, reason)),
    };
    // Decoded before admission, so a malformed body is rejected whatever the mode.
    let decoded = match signal {
        Signal::Traces => decode::<ExportTraceServiceRequest>(format, &raw).map(Decoded::Traces),
        Signal::Metrics => {
            decode::<ExportMetricsServiceRequest>(format, &raw).map(Decoded::Metrics)
        }
        Signal::Logs => decode::<ExportLogsServiceRequest>(format, &raw).map(Decoded::Logs),
    };
    let decoded = match decoded {
        Ok(decoded) => decoded,
        Err(reason) => return Ok(reject(&shared, info, StatusCode::BAD_REQUEST, reason)),
    };

    match shared.admit().await {
        Admission::Accept => {}
        Admission::Refuse => {
            info.outcome = RequestOutcome::Refused;
            shared.record(info, Vec::new());
            return Ok(plain(StatusCode::SERVICE_UNAVAILABLE, REFUSED_MESSAGE));
        }
        Admission::Throttle => {
            info.outcome = RequestOutcome::Refused;
            shared.record(info, Vec::new());
            let mut response = plain(StatusCode::TOO_MANY_REQUESTS, THROTTLED_MESSAGE);
            response
                .headers_mut()
                .insert(RETRY_AFTER, THROTTLE_RETRY_AFTER_S.into());
            return Ok(response);
        }
        Admission::Reject => {
            return Ok(reject(
                &shared,
                info,
                StatusCode::BAD_REQUEST,
                REJECTED_MESSAGE.to_owned(),
            ))
        }
        Admission::Drop => return Ok(plain(StatusCode::SERVICE_UNAVAILABLE, REFUSED_MESSAGE)),
    }
    match decoded {
        Decoded::Traces(export) => {
            let spans = spans_from_request(&export);
            info.span_count = spans.len();
            shared.record(info, spans);
        }
        Decoded::Metrics(export) => shared.record_metrics(info, metrics_from_request(&export)),
        Decoded::Logs(export) => shared.record_logs(info, logs_from_request(&export)),
    }
    Ok(success(format))
}

/// A decoded export request.
enum Decoded {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
}

/// The media type of a `Content-Type` value, without parameters such as `charset`.
fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

fn decompress(encoding: Option<&str>, body: &Bytes, limit: usize) -> Result<Bytes, String> {
    match encoding.map(str::trim) {
        None | Some("" | "identity") => Ok(body.clone()),
        Some("gzip") => {
            let mut raw = Vec::new();
            // Bound the output too, so a small "zip bomb" cannot exhaust memory.
            let limit = u64::try_from(limit).unwrap_or(u64::MAX);
            flate2::read::GzDecoder::new(body.as_ref())
                .take(limit.saturating_add(1))
                .read_to_end(&mut raw)
                .map_err(|error| format!("invalid gzip body: {error}"))?;
            if raw.len() as u64 > limit {
                return Err(format!("decompressed body exceeds {limit} bytes"));
            }
            Ok(raw.into())
        }
        Some(other) => Err(format!("unsupported content-encoding {other:?}")),
    }
}

fn decode<R: Message + Default + DeserializeOwned>(
    format: Format,
    raw: &[u8],
) -> Result<R, String> {
    match format {
        Format::Protobuf => R::decode(raw).map_err(|error| format!("invalid protobuf: {error}")),
        Format::Json => {
            serde_json::from_slice(raw).map_err(|error| format!("invalid OTLP/JSON: {error}"))
        }
    }
}

fn success(format: Format) -> Response<Full<Bytes>> {
    let (content_type, body) = match format {
        // An empty export response (no partial success) encodes to no bytes, for every signal.
        Format::Protobuf => (PROTOBUF, Vec::new()),
        // The JSON form of an empty response; serde would spell out `"partialSuccess":null`.
        Format::Json => (JSON, b"{}".to_vec()),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a static status and header make a valid response")
}

fn reject(
    shared: &Shared,
    mut info: RequestInfo,
    status: StatusCode,
    reason: String,
) -> Response<Full<Bytes>> {
    let response = plain(status, &reason);
    info.outcome = RequestOutcome::Rejected { reason };
    shared.record(info, Vec::new());
    response
}

fn plain(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(format!("{message}\n"))))
        .expect("a static status and header make a valid response")
}

fn header_text(headers: &HeaderMap, name: http::HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// Request headers as a sorted map; repeated headers are joined with `", "`.
pub(crate) fn headers_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        map.entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    map
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn gzip_bodies_are_inflated_and_bounded() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder
            .write_all(&[7; 100])
            .expect("writing to a Vec cannot fail");
        let gzipped = Bytes::from(encoder.finish().expect("finishing a Vec gzip stream"));
        assert_eq!(
            decompress(Some("gzip"), &gzipped, 100).as_deref(),
            Ok(&[7; 100][..])
        );
        assert!(decompress(Some("gzip"), &gzipped, 99).is_err());
        assert!(decompress(Some("br"), &gzipped, 100).is_err());
        assert_eq!(decompress(None, &gzipped, 0), Ok(gzipped));
    }

    #[test]
    fn media_type_ignores_parameters() {
        assert_eq!(media_type("application/json; charset=utf-8"), JSON);
    }
}
