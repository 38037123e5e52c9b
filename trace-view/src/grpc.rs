//! OTLP/gRPC: the `opentelemetry.proto.collector.trace.v1.TraceService/Export` method, with
//! gzip accepted and offered, recording what each call carried.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::http::headers_map;
use crate::model::{spans_from_request, RequestInfo, RequestOutcome, Transport};
use crate::store::{unix_nanos_now, Admission, Shared, REFUSED_MESSAGE};

/// The full method path of the one call this service answers.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The trace service implementation behind the gRPC port.
#[derive(Debug)]
pub(crate) struct GrpcTraceService {
    shared: Arc<Shared>,
}

/// Builds the tonic service for the gRPC port, with gzip enabled in both directions.
pub(crate) fn service(
    shared: Arc<Shared>,
    max_message_bytes: usize,
) -> TraceServiceServer<GrpcTraceService> {
    TraceServiceServer::new(GrpcTraceService { shared })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_bytes)
}

#[tonic::async_trait]
impl TraceService for GrpcTraceService {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        // tonic has already read and decoded the message; stamp the time the call reached us.
        let arrival_unix_nanos = unix_nanos_now();
        let headers = request.metadata().clone().into_headers();
        let header = |name: &str| {
            headers
                .get(name)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        };
        let mut info = RequestInfo {
            transport: Transport::Grpc,
            path: EXPORT_PATH.to_owned(),
            content_type: header("content-type"),
            content_encoding: header("grpc-encoding"),
            headers: headers_map(&headers),
            arrival_unix_nanos,
            span_count: 0,
            outcome: RequestOutcome::Accepted,
        };

        match self.shared.admit().await {
            Admission::Accept => {}
            Admission::Refuse => {
                info.outcome = RequestOutcome::Refused;
                self.shared.record(info, Vec::new());
                return Err(Status::unavailable(REFUSED_MESSAGE));
            }
            Admission::Drop => return Err(Status::unavailable(REFUSED_MESSAGE)),
        }
        let spans = spans_from_request(request.get_ref());
        info.span_count = spans.len();
        self.shared.record(info, spans);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}
