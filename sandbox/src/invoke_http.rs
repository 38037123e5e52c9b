//! The Runtime-Interface-Emulator-compatible invoke endpoint
//! (`POST /2015-03-31/functions/function/invocations`) and the HTTP client the CLI uses against it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::body::{error_response, read_limited, ChannelBody, HttpBody, ReadError, MAX_PAYLOAD};
use crate::error::SandboxError;
use crate::sandbox::{response_headers, Inner, Invocation};

/// Serves one request to the invoke endpoint.
pub(crate) async fn handle(inner: Arc<Inner>, req: Request<Incoming>) -> Response<HttpBody> {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if req.method() != Method::POST
        || !matches!(
            segments.as_slice(),
            ["2015-03-31", "functions", _, "invocations"]
        )
    {
        return error_response(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("No route for {path}"),
        );
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut invocation = Invocation {
        trace_header: header("x-amzn-trace-id"),
        tenant_id: header("x-amz-tenant-id"),
        cognito_identity: header("x-amz-cognito-identity"),
        ..Invocation::default()
    };
    if let Some(encoded) = header("x-amz-client-context") {
        match base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            Some(decoded) => invocation.client_context = Some(decoded),
            None => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContentException",
                    "Client context must be base64-encoded JSON",
                )
            }
        }
    }
    invocation.payload = match read_limited(req.into_body(), MAX_PAYLOAD).await {
        Ok(b) => b,
        Err(ReadError::TooLarge) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                "Request must be smaller than 6291556 bytes for the InvokeFunction operation",
            )
        }
        Err(ReadError::Truncated) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                "Truncated request body",
            )
        }
    };
    let pending = inner.submit(invocation);
    let Ok(response) = pending.response.await else {
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "The invocation was abandoned",
        );
    };
    let headers = response_headers(&pending.request_id, &response);
    let mut resp = Response::new(ChannelBody(response.body).boxed());
    *resp.headers_mut() = headers;
    resp
}

/// The result of one HTTP invocation, as the CLI prints it.
#[derive(Debug, Clone)]
pub struct HttpInvokeResult {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
    /// Trailers, if the response was streamed with trailers.
    pub trailers: Option<HeaderMap>,
    /// Wall time of the exchange.
    pub elapsed: Duration,
}

impl HttpInvokeResult {
    /// `X-Amzn-RequestId`, if present.
    pub fn request_id(&self) -> Option<&str> {
        self.headers
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
    }

    /// `X-Amz-Function-Error`, if present.
    pub fn function_error(&self) -> Option<&str> {
        self.headers
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok())
    }
}

/// POSTs `payload` to an invoke endpoint with an optional trace header.
pub async fn invoke_over_http(
    url: &str,
    payload: Bytes,
    trace_header: Option<&str>,
) -> Result<HttpInvokeResult, SandboxError> {
    let fail = |message: String| SandboxError::Http {
        url: url.to_owned(),
        message,
    };
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut builder = Request::post(url)
        .header("content-type", "application/json")
        .header("te", "trailers");
    if let Some(t) = trace_header {
        builder = builder.header("x-amzn-trace-id", t);
    }
    let request = builder
        .body(Full::new(payload))
        .map_err(|e| fail(e.to_string()))?;
    let started = Instant::now();
    let response = client
        .request(request)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let (parts, mut body) = response.into_parts();
    let mut data = BytesMut::new();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        match frame.map_err(|e| fail(e.to_string()))?.into_data() {
            Ok(d) => data.extend_from_slice(&d),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    Ok(HttpInvokeResult {
        status: parts.status,
        headers: parts.headers,
        body: data.freeze(),
        trailers,
        elapsed: started.elapsed(),
    })
}
