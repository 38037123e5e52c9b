//! AWS X-Ray as the export target (`LAMBDA_LENS_EXPORT_TARGET=xray`): spans sent straight to
//! X-Ray's OTLP endpoint, without a collector.
//!
//! What X-Ray accepts: traces only, over OTLP/HTTP with a protobuf body (gzip or not) at
//! `https://xray.{region}.amazonaws.com/v1/traces` (or a VPC endpoint); every request signed with
//! SigV4 for service `xray` in the endpoint's region; at most 10,000 spans and 5 MB
//! (uncompressed) per request and 200 KB per span. The OTLP machinery is the collector's
//! (`otlp`); this module adds what X-Ray needs on top of it:
//!
//! - `endpoint`: the endpoint, region and credentials from the settings, or what is missing;
//! - `sigv4`: the signature;
//! - `signing`: the HTTP client that signs each request as it is sent;
//! - `limits`: batches cut to X-Ray's request limits, spans cut down to its span limit.

mod endpoint;
mod limits;
mod signing;
mod sigv4;

pub(crate) use self::endpoint::configure;
pub use self::endpoint::XrayConfigError;
pub(crate) use self::limits::{Fit, XrayLimits};
pub use self::limits::{
    TRUNCATION_MARKER, XRAY_MAX_BATCH_SPANS, XRAY_MAX_REQUEST_BYTES, XRAY_MAX_SPAN_BYTES,
};
pub(crate) use self::signing::SigningHttpClient;
pub(crate) use self::sigv4::Signer;
