//! AWS as the export target (`LAMBDA_LENS_EXPORT_TARGET=xray`): spans sent straight to X-Ray's
//! OTLP endpoint, log records to CloudWatch Logs' and metrics to CloudWatch's, without a collector.
//!
//! What X-Ray accepts: traces over OTLP/HTTP with a protobuf body (gzip or not) at
//! `https://xray.{region}.amazonaws.com/v1/traces` (or a VPC endpoint); every request signed with
//! SigV4 for service `xray` in the endpoint's region; at most 10,000 spans and 5 MB
//! (uncompressed) per request and 200 KB per span. CloudWatch Logs takes log records at
//! `https://logs.{region}.amazonaws.com/v1/logs` (service `logs`, the log group and stream in
//! headers), CloudWatch metrics at `https://monitoring.{region}.amazonaws.com/v1/metrics`
//! (service `monitoring`). The OTLP machinery is the collector's (`otlp`: the HTTP sender signs
//! each attempt with the signer made here); this module adds what AWS needs on top of it:
//!
//! - `endpoint`: the endpoints, region and credentials from the settings, or what is missing;
//! - `sigv4`: the signature;
//! - `limits`: batches cut to X-Ray's request limits, spans cut down to its span limit.

mod endpoint;
mod limits;
mod sigv4;

pub use self::endpoint::XrayConfigError;
pub(crate) use self::endpoint::{configure, LOG_STREAM_HEADER};
pub(crate) use self::limits::{Fit, XrayLimits};
pub use self::limits::{
    TRUNCATION_MARKER, XRAY_MAX_BATCH_SPANS, XRAY_MAX_REQUEST_BYTES, XRAY_MAX_SPAN_BYTES,
};
pub(crate) use self::sigv4::Signer;
