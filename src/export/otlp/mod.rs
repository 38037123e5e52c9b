//! OTLP collectors as the export target (the default; export to AWS reuses this machinery).
//!
//! What a collector accepts: for OTLP/HTTP, a protobuf export request POSTed to the signal's full
//! URL (`…/v1/traces`, `…/v1/metrics`, `…/v1/logs`; the settings resolve it), gzip-compressed or
//! not, with the configured headers; for OTLP/gRPC, the same message sent to the signal's export
//! service at the server URL, the headers as metadata. Every request is encoded (and, for HTTP,
//! compressed) once by the signal; a [`Sender`] only carries those bytes, so a retry re-sends them
//! as they are, and the answer's status (and `Retry-After`) is seen as such.
//!
//! TLS: `https` endpoints work out of the box with both transports, verified against the bundled
//! Mozilla roots plus the CAs of `OTEL_EXPORTER_OTLP_CERTIFICATE` (`tls`), with rustls on ring.
//!
//! - `collector_http`: the hyper client OTLP/HTTP requests to `https://` endpoints go through, one
//!   kept connection per endpoint;
//! - `driven`: such a connection, polled by the request that uses it when it asked to be;
//! - `plain_http`: OTLP/HTTP requests to `http://` endpoints, on the kept raw connection the event
//!   poll uses;
//! - `http` and `grpc`: one signal's sender for each transport;
//! - `headers`: the configured headers, checked once for both;
//! - `tls`: what is trusted.

mod collector_http;
mod driven;
mod grpc;
mod headers;
mod http;
mod plain_http;
mod tls;

use std::io;
use std::time::Duration;

use bytes::Bytes;

pub(crate) use self::collector_http::{CollectorHttpClient, HttpError};
use self::grpc::GrpcSender;
use self::http::HttpSender;
pub(crate) use self::tls::CaCertificates;
use super::failure::SendError;
use super::xray::Signer;
use super::ExportError;
use crate::settings::{OtlpSettings, Transport};

/// Sends one signal's encoded requests to its endpoint.
pub(crate) enum Sender {
    /// OTLP/HTTP, signed when there is a signer (AWS); boxed, as its header map and client are
    /// several times the size of a gRPC channel handle.
    Http(Box<HttpSender>),
    /// OTLP/gRPC through a tonic channel.
    Grpc(GrpcSender),
}

impl Sender {
    /// The sender for `config`, over `client` for HTTP (shared by the signals), SigV4-signed
    /// with `signer` when there is one.
    ///
    /// Must be called within a Tokio runtime for gRPC (the channel spawns its worker task). The
    /// endpoint is not contacted here: connections are made by the first flush.
    pub(crate) fn new(
        config: &OtlpSettings,
        client: &CollectorHttpClient,
        ca: Option<&CaCertificates>,
        signer: Option<Signer>,
    ) -> Result<Self, ExportError> {
        Ok(match config.transport {
            Transport::HttpProtobuf => {
                Self::Http(Box::new(HttpSender::new(config, client.clone(), signer)?))
            }
            Transport::Grpc => Self::Grpc(GrpcSender::new(config, ca)?),
        })
    }

    /// Turns an encoded protobuf request into the body this sender sends (gzip for OTLP/HTTP
    /// with compression; gRPC compresses its own frames).
    pub(crate) fn body(&self, protobuf: Vec<u8>) -> io::Result<Bytes> {
        match self {
            Self::Http(http) => http.body(protobuf),
            Self::Grpc(_) => Ok(Bytes::from(protobuf)),
        }
    }

    /// Sends `body`; the caller bounds the wait by `timeout` (gRPC also tells the server).
    pub(crate) async fn send(&mut self, body: &Bytes, timeout: Duration) -> Result<(), SendError> {
        match self {
            Self::Http(http) => http.send(body).await,
            Self::Grpc(grpc) => grpc.send(body, timeout).await,
        }
    }

    /// The per-request timeout of the settings (`OTEL_EXPORTER_OTLP_*TIMEOUT`).
    pub(crate) fn timeout(&self) -> Duration {
        match self {
            Self::Http(http) => http.timeout(),
            Self::Grpc(grpc) => grpc.timeout(),
        }
    }

    /// Sets a header of every later request (HTTP only: the AWS endpoints that need one learnt
    /// at run time take OTLP/HTTP alone); false when `value` is not a valid header value.
    pub(crate) fn set_header(&mut self, name: &'static str, value: &str) -> bool {
        match self {
            Self::Http(http) => http.set_header(name, value),
            Self::Grpc(_) => false,
        }
    }
}
