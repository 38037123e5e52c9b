//! OTLP/gRPC: the `Export` methods of the trace, metrics and logs services, with gzip accepted and
//! offered, recording what each call carried; one router sends each call to its service.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::{HeaderMap, Request as HttpRequest, Response as HttpResponse};
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::codegen::Service as _;
use tonic::{Request, Response, Status};

use crate::http::headers_map;
use crate::model::{spans_from_request, RequestInfo, RequestOutcome, Transport};
use crate::signals::{logs_from_request, metrics_from_request};
use crate::store::{
    unix_nanos_now, Admission, Shared, REFUSED_MESSAGE, REJECTED_MESSAGE, THROTTLED_MESSAGE,
};

/// The method path of the trace service's one call.
const TRACES_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The method path of the metrics service's one call.
const METRICS_EXPORT_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
/// The method path of the logs service's one call.
const LOGS_EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// The three services behind the gRPC port; they share the captured state.
#[derive(Debug)]
pub(crate) struct GrpcService {
    shared: Arc<Shared>,
}

/// The services, each with gzip enabled in both directions.
#[derive(Clone)]
pub(crate) struct Router {
    traces: TraceServiceServer<GrpcService>,
    metrics: MetricsServiceServer<GrpcService>,
    logs: LogsServiceServer<GrpcService>,
}

/// What a routed call answers.
type RoutedFuture =
    Pin<Box<dyn Future<Output = Result<HttpResponse<tonic::body::Body>, Infallible>> + Send>>;

impl Router {
    /// Sends `request` to the service its path names (`UNIMPLEMENTED` for any other).
    pub(crate) fn route(&self, request: HttpRequest<Incoming>) -> RoutedFuture {
        let path = request.uri().path();
        if path.starts_with("/opentelemetry.proto.collector.trace.v1.TraceService/") {
            let mut service = self.traces.clone();
            Box::pin(async move { service.call(request).await })
        } else if path.starts_with("/opentelemetry.proto.collector.metrics.v1.MetricsService/") {
            let mut service = self.metrics.clone();
            Box::pin(async move { service.call(request).await })
        } else if path.starts_with("/opentelemetry.proto.collector.logs.v1.LogsService/") {
            let mut service = self.logs.clone();
            Box::pin(async move { service.call(request).await })
        } else {
            let response = Status::unimplemented("not an OTLP service").into_http();
            Box::pin(async move { Ok(response) })
        }
    }
}

/// Builds the router for the gRPC port.
pub(crate) fn router(shared: Arc<Shared>, max_message_bytes: usize) -> Router {
    let service = || GrpcService {
        shared: Arc::clone(&shared),
    };
    Router {
        traces: TraceServiceServer::new(service())
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max_message_bytes),
        metrics: MetricsServiceServer::new(service())
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max_message_bytes),
        logs: LogsServiceServer::new(service())
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max_message_bytes),
    }
}

impl GrpcService {
    /// The call's metadata as a [`RequestInfo`], and whether to accept it (a refusal is recorded
    /// and becomes the error to answer).
    async fn admit(&self, path: &str, metadata: HeaderMap) -> Result<RequestInfo, Status> {
        // tonic has already read and decoded the message; stamp the time the call reached us.
        let arrival_unix_nanos = unix_nanos_now();
        let header = |name: &str| {
            metadata
                .get(name)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        };
        let mut info = RequestInfo {
            transport: Transport::Grpc,
            path: path.to_owned(),
            content_type: header("content-type"),
            content_encoding: header("grpc-encoding"),
            headers: headers_map(&metadata),
            arrival_unix_nanos,
            span_count: 0,
            outcome: RequestOutcome::Accepted,
        };
        match self.shared.admit().await {
            Admission::Accept => Ok(info),
            Admission::Refuse => {
                info.outcome = RequestOutcome::Refused;
                self.shared.record(info, Vec::new());
                Err(Status::unavailable(REFUSED_MESSAGE))
            }
            Admission::Throttle => {
                info.outcome = RequestOutcome::Refused;
                self.shared.record(info, Vec::new());
                Err(Status::resource_exhausted(THROTTLED_MESSAGE))
            }
            Admission::Reject => {
                info.outcome = RequestOutcome::Rejected {
                    reason: REJECTED_MESSAGE.to_owned(),
                };
                self.shared.record(info, Vec::new());
                Err(Status::invalid_argument(REJECTED_MESSAGE))
            }
            Admission::Drop => Err(Status::unavailable(REFUSED_MESSAGE)),
        }
    }
}

#[tonic::async_trait]
impl TraceService for GrpcService {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let metadata = request.metadata().clone().into_headers();
        let mut info = self.admit(TRACES_EXPORT_PATH, metadata).await?;
        let spans = spans_from_request(request.get_ref());
        info.span_count = spans.len();
        self.shared.record(info, spans);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcService {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let metadata = request.metadata().clone().into_headers();
        let info = self.admit(METRICS_EXPORT_PATH, metadata).await?;
        self.shared
            .record_metrics(info, metrics_from_request(request.get_ref()));
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for GrpcService {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let metadata = request.metadata().clone().into_headers();
        let info = self.admit(LOGS_EXPORT_PATH, metadata).await?;
        self.shared
            .record_logs(info, logs_from_request(request.get_ref()));
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}
