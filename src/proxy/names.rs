//! The header names the proxy reads or writes, lowercase as `head::Fields` looks them up.

/// The invocation's request id (on `/next` answers).
pub(super) const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
/// The invocation's deadline, in milliseconds since the epoch.
pub(super) const DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
/// The ARN the function was invoked by.
pub(super) const INVOKED_ARN: &str = "lambda-runtime-invoked-function-arn";
/// The X-Ray trace header of the invocation.
pub(super) const TRACE_ID: &str = "lambda-runtime-trace-id";
/// The mobile SDK's client context.
pub(super) const CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
/// The mobile SDK's Cognito identity.
pub(super) const COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";
/// The tenant of a tenant-isolated function.
pub(super) const TENANT_ID: &str = "lambda-runtime-aws-tenant-id";
/// `streaming` on a streamed response.
pub(super) const RESPONSE_MODE: &str = "lambda-runtime-function-response-mode";
/// The error type of an error result (a header, or a trailer of a stream).
pub(super) const ERROR_TYPE: &str = "lambda-runtime-function-error-type";
/// The error body trailer of a stream that failed (base64).
pub(super) const ERROR_BODY: &str = "lambda-runtime-function-error-body";
/// The X-Ray error cause the runtime sends with an error result.
pub(super) const XRAY_ERROR_CAUSE: &str = "lambda-runtime-function-xray-error-cause";
/// The body's media type.
pub(super) const CONTENT_TYPE: &str = "content-type";
/// The body's length, set anew when a transform changed it.
pub(super) const CONTENT_LENGTH: &str = "content-length";
/// The upstream's authority, set on every forwarded request.
pub(super) const HOST: &str = "host";
/// Set to `close` on an answer after which the runtime's connection closes.
pub(super) const CONNECTION: &str = "connection";
