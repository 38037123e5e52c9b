//! OTLP/gRPC: one signal's requests sent to its export service (`/opentelemetry.proto.collector.
//! <signal>.v1.<Signal>Service/Export`) over a tonic channel, with the configured headers as
//! metadata, gzip frames when configured, and TLS for `https` URLs.
//!
//! The request is already encoded: a pass-through codec hands its bytes to tonic as the message,
//! so a retry re-sends the same bytes and no generated client re-encodes it. The answer (an
//! `Export…ServiceResponse`) is not decoded: only its status matters.
//!
//! tonic's default `ClientTlsConfig` has no roots at all (https would fail every handshake), so
//! it is given the bundled webpki roots and the extra CAs.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use tonic::client::Grpc;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::Status;

use super::headers::header_map;
use super::tls::CaCertificates;
use crate::export::failure::SendError;
use crate::export::ExportError;
use crate::settings::{OtlpSettings, Signal};

/// One signal's OTLP/gRPC endpoint.
pub(crate) struct GrpcSender {
    channel: Channel,
    path: PathAndQuery,
    metadata: MetadataMap,
    gzip: bool,
    timeout: Duration,
}

impl GrpcSender {
    /// The sender for `config`, trusting `ca` besides the bundled roots. Must be called within a
    /// Tokio runtime (the lazy channel spawns its worker there).
    pub(super) fn new(
        config: &OtlpSettings,
        ca: Option<&CaCertificates>,
    ) -> Result<Self, ExportError> {
        let invalid = |error: &dyn std::fmt::Display| {
            ExportError::Build(format!(
                "the {} endpoint {:?} is not usable: {error}",
                config.signal.name(),
                config.endpoint
            ))
        };
        tokio::runtime::Handle::try_current().map_err(|_| {
            ExportError::Build("the gRPC exporter must be built within a Tokio runtime".into())
        })?;
        let mut endpoint = Endpoint::from_shared(config.endpoint.clone())
            .map_err(|error| invalid(&error))?
            .timeout(config.timeout);
        if endpoint.uri().scheme_str() == Some("https") {
            endpoint = endpoint
                .tls_config(tls_config(ca))
                .map_err(|error| invalid(&error))?;
        }
        Ok(Self {
            channel: endpoint.connect_lazy(),
            path: PathAndQuery::from_static(service_path(config.signal)),
            metadata: MetadataMap::from_headers(header_map(&config.headers)),
            gzip: config.gzip,
            timeout: config.timeout,
        })
    }

    /// Sends `body` as the export call's message, telling the server the call's `timeout`
    /// (the caller bounds the wait).
    pub(super) async fn send(&self, body: &Bytes, timeout: Duration) -> Result<(), SendError> {
        let call = async {
            let mut grpc = Grpc::new(self.channel.clone());
            if self.gzip {
                grpc = grpc.send_compressed(CompressionEncoding::Gzip);
            }
            grpc.ready()
                .await
                .map_err(|error| Status::unavailable(format!("transport error: {error}")))?;
            let mut request = tonic::Request::new(body.clone());
            *request.metadata_mut() = self.metadata.clone();
            request.set_timeout(timeout);
            grpc.unary(request, self.path.clone(), PassThrough).await
        };
        call.await.map(drop).map_err(SendError::Grpc)
    }

    /// The per-request timeout of the settings.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// The export method of `signal`'s collector service.
fn service_path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    }
}

/// TLS for OTLP/gRPC: the bundled Mozilla roots (tonic's default has none) and the extra CAs.
fn tls_config(ca: Option<&CaCertificates>) -> ClientTlsConfig {
    let tls = ClientTlsConfig::new().with_webpki_roots();
    match ca {
        Some(ca) => tls.ca_certificate(Certificate::from_pem(&ca.pem)),
        None => tls,
    }
}

/// A codec whose message is the already-encoded request, and whose answer is not decoded.
#[derive(Debug, Clone, Copy, Default)]
struct PassThrough;

impl Codec for PassThrough {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = PassThrough;
    type Decoder = PassThrough;

    fn encoder(&mut self) -> Self::Encoder {
        PassThrough
    }

    fn decoder(&mut self) -> Self::Decoder {
        PassThrough
    }
}

impl Encoder for PassThrough {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for PassThrough {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_tls_uses_the_bundled_webpki_roots() {
        // ClientTlsConfig exposes its root selection only through Debug.
        let debug = format!("{:?}", tls_config(None));
        assert!(debug.contains("with_webpki_roots: true"), "{debug}");
    }
}
