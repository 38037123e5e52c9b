//! The extension lifecycle: the Extensions API client (register, report an init error), the
//! `/extension/event/next` long poll on its own kept connection, and the events it delivers, INVOKE
//! and SHUTDOWN.

use std::fmt;
use std::pin::pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use http::header::HeaderValue;
use http::uri::PathAndQuery;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::cow_str::CowStr;
use crate::kept_connection::KeptConnection;
use crate::platform_http::{error_chain, ApiBody, PlatformClient};
use crate::record::RequestId;
use crate::settings::{is_managed_instances, RuntimeApiEndpoint};

const REGISTER_PATH: &str = "/2020-01-01/extension/register";
const NEXT_PATH: &str = "/2020-01-01/extension/event/next";
const INIT_ERROR_PATH: &str = "/2020-01-01/extension/init/error";
/// Header naming the extension in every Extensions and Telemetry API call.
pub(crate) const EXTENSION_ID_HEADER: &str = "lambda-extension-identifier";
/// Largest Extensions API answer read; events are small JSON documents.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A failed Extensions API call.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The API could not be reached.
    #[error("Extensions API unreachable: {0}")]
    Transport(String),
    /// The API answered with an error status.
    #[error("Extensions API answered {status} to {call}: {body}")]
    Status {
        /// Which call.
        call: &'static str,
        /// The HTTP status.
        status: StatusCode,
        /// The answer's body (the API's error JSON).
        body: String,
    },
    /// The answer could not be understood.
    #[error("unexpected answer to {call}: {detail}")]
    Protocol {
        /// Which call.
        call: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// Which events to register for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    /// INVOKE and SHUTDOWN: default functions.
    InvokeAndShutdown,
    /// SHUTDOWN only: Lambda Managed Instances refuse INVOKE registrations (403
    /// `Extension.InvalidEventType`).
    ShutdownOnly,
}

impl Subscription {
    /// The one to use for an `AWS_LAMBDA_INITIALIZATION_TYPE` value.
    pub fn for_initialization_type(init_type: Option<&str>) -> Self {
        if is_managed_instances(init_type) {
            Self::ShutdownOnly
        } else {
            Self::InvokeAndShutdown
        }
    }

    fn body(self) -> &'static str {
        match self {
            Self::InvokeAndShutdown => r#"{"events":["INVOKE","SHUTDOWN"]}"#,
            Self::ShutdownOnly => r#"{"events":["SHUTDOWN"]}"#,
        }
    }
}

/// The id the platform gave this extension at registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionId(String);

impl fmt::Display for ExtensionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What registration told us about the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// `Lambda-Extension-Identifier`.
    pub extension_id: ExtensionId,
    /// `functionName`.
    pub function_name: Option<String>,
    /// `accountId` (only when the `accountId` feature was accepted).
    pub account_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterAnswer {
    function_name: Option<String>,
    account_id: Option<String>,
}

/// Why the sandbox is shutting down; the platform emits lower case, the docs upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShutdownReason {
    /// Normal end of the environment.
    Spindown,
    /// The function timed out.
    Timeout,
    /// A failure (crash, out of memory, extension error).
    Failure,
    /// Anything else (emulators send their own words).
    Other(String),
}

impl ShutdownReason {
    fn parse(raw: &str) -> Self {
        match raw.to_ascii_lowercase().as_str() {
            "spindown" => Self::Spindown,
            "timeout" => Self::Timeout,
            "failure" => Self::Failure,
            _ => Self::Other(raw.to_owned()),
        }
    }
}

/// The X-Ray trace context of an INVOKE event. Its `type` (always `X-Amzn-Trace-Id` in Lambda) is
/// skipped unread: nothing depends on it, and reading it would copy it for every invocation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventTracing {
    /// The X-Ray header.
    pub value: String,
}

/// The INVOKE event: an invocation started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeEvent {
    /// The invocation's request id.
    pub request_id: RequestId,
    /// Its deadline (epoch ms; 0 when the platform gives none, as emulators do).
    pub deadline_ms: u64,
    /// The ARN the caller used.
    pub invoked_function_arn: Option<String>,
    /// X-Ray context, absent when the invocation has none.
    pub tracing: Option<EventTracing>,
}

/// An event from `/extension/event/next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtensionEvent {
    /// An invocation started.
    Invoke(InvokeEvent),
    /// The environment is shutting down.
    Shutdown {
        /// Why.
        reason: ShutdownReason,
        /// When the shutdown budget ends (epoch ms).
        deadline_ms: u64,
    },
}

impl ExtensionEvent {
    /// Parses an event document; unknown event types are reported as a protocol error.
    pub fn parse(body: &[u8]) -> Result<Self, LifecycleError> {
        // The type is only compared and the request id copied once, into its shared allocation:
        // both are borrowed where the document allows.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw<'a> {
            #[serde(borrow)]
            event_type: CowStr<'a>,
            #[serde(borrow)]
            request_id: Option<CowStr<'a>>,
            deadline_ms: Option<u64>,
            invoked_function_arn: Option<String>,
            #[serde(borrow)]
            tracing: Option<&'a RawValue>,
            shutdown_reason: Option<String>,
        }
        let protocol = |detail: String| LifecycleError::Protocol {
            call: "event/next",
            detail,
        };
        let raw: Raw<'_> = serde_json::from_slice(body).map_err(|e| protocol(e.to_string()))?;
        match raw.event_type.0.as_ref() {
            "INVOKE" => Ok(Self::Invoke(InvokeEvent {
                request_id: RequestId::new(
                    raw.request_id
                        .ok_or_else(|| protocol("INVOKE without requestId".into()))?
                        .0,
                ),
                deadline_ms: raw.deadline_ms.unwrap_or(0),
                invoked_function_arn: raw.invoked_function_arn,
                // Read apart, so that a malformed one costs only the trace context, never the
                // INVOKE (which would go unanswered).
                tracing: raw
                    .tracing
                    .and_then(|t| serde_json::from_str::<EventTracing>(t.get()).ok())
                    .filter(|t| !t.value.is_empty()),
            })),
            "SHUTDOWN" => Ok(Self::Shutdown {
                reason: ShutdownReason::parse(raw.shutdown_reason.as_deref().unwrap_or("")),
                deadline_ms: raw.deadline_ms.unwrap_or(0),
            }),
            other => Err(protocol(format!("unknown eventType {other:?}"))),
        }
    }
}

/// The moment an epoch-ms deadline names; `None` for 0, which emulators send for "no deadline".
pub fn deadline_at(deadline_ms: u64) -> Option<SystemTime> {
    (deadline_ms > 0).then(|| UNIX_EPOCH + Duration::from_millis(deadline_ms))
}

/// Time left until an epoch-ms deadline (zero when passed, or when there is none).
pub fn time_until(deadline_ms: u64) -> Duration {
    deadline_at(deadline_ms)
        .and_then(|deadline| deadline.duration_since(SystemTime::now()).ok())
        .unwrap_or_default()
}

/// Client of the Extensions API at the real `AWS_LAMBDA_RUNTIME_API`.
pub struct ExtensionsClient {
    client: PlatformClient,
    api: RuntimeApiEndpoint,
}

impl ExtensionsClient {
    /// A client for `api`, sharing the pooled `client`.
    pub fn new(client: PlatformClient, api: RuntimeApiEndpoint) -> Self {
        Self { client, api }
    }

    /// Registers under `name` (the file name in `/opt/extensions`) for `events`.
    pub async fn register(
        &self,
        name: &str,
        events: Subscription,
    ) -> Result<Registration, LifecycleError> {
        let req = Request::builder()
            .method(Method::POST)
            .uri(self.api.uri(REGISTER_PATH))
            .header("Lambda-Extension-Name", name)
            .header("Lambda-Extension-Accept-Feature", "accountId")
            .header("Content-Type", "application/json")
            .body(ApiBody::local(events.body()))
            .expect("register request parts are static and valid");
        let (status, headers, body) = self.call("register", req).await?;
        if status != StatusCode::OK {
            return Err(status_error("register", status, &body));
        }
        let extension_id = headers
            .get(EXTENSION_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(|v| ExtensionId(v.to_owned()))
            .ok_or_else(|| LifecycleError::Protocol {
                call: "register",
                detail: "no Lambda-Extension-Identifier header".into(),
            })?;
        let answer: RegisterAnswer =
            serde_json::from_slice(&body).map_err(|e| LifecycleError::Protocol {
                call: "register",
                detail: e.to_string(),
            })?;
        Ok(Registration {
            extension_id,
            function_name: answer.function_name,
            account_id: answer.account_id,
        })
    }

    /// The long poll for `id`'s events, on its own connection.
    pub fn events(&self, id: &ExtensionId) -> Result<EventPoller, LifecycleError> {
        EventPoller::new(&self.api, id)
    }

    /// Reports a fatal start-up error; the platform then fails the init.
    pub async fn init_error(
        &self,
        id: &ExtensionId,
        error_type: &str,
        message: &str,
    ) -> Result<(), LifecycleError> {
        const CALL: &str = "init/error";
        let body = serde_json::json!({
            "errorMessage": message,
            "errorType": error_type,
            "stackTrace": [],
        });
        let req = Request::builder()
            .method(Method::POST)
            .uri(self.api.uri(INIT_ERROR_PATH))
            .header(EXTENSION_ID_HEADER, id.0.as_str())
            .header("Lambda-Extension-Function-Error-Type", error_type)
            .header("Content-Type", "application/json")
            .body(ApiBody::local(body.to_string()))
            .map_err(|e| LifecycleError::Protocol {
                call: CALL,
                detail: format!("cannot build the request: {e}"),
            })?;
        let (status, _, body) = self.call(CALL, req).await?;
        if status != StatusCode::ACCEPTED {
            return Err(status_error(CALL, status, &body));
        }
        Ok(())
    }

    async fn call(
        &self,
        call: &'static str,
        req: Request<ApiBody>,
    ) -> Result<(StatusCode, http::HeaderMap, Bytes), LifecycleError> {
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| LifecycleError::Transport(error_chain(&e)))?;
        read_answer(call, resp).await
    }
}

/// `/extension/event/next`, called once per event: a connection of its own and a request head
/// written once, so each call costs one write and the reads of its answer on a kept connection.
pub struct EventPoller {
    connection: KeptConnection,
    request: Bytes,
}

impl EventPoller {
    fn new(api: &RuntimeApiEndpoint, id: &ExtensionId) -> Result<Self, LifecycleError> {
        let protocol = |detail: String| LifecycleError::Protocol {
            call: "event/next",
            detail,
        };
        let authority = api.authority();
        // As the pooled client would send it: the port is left out only when it is HTTP's default.
        let host = match authority.port_u16() {
            Some(80) | None => authority.host().to_owned(),
            Some(port) => format!("{}:{port}", authority.host()),
        };
        HeaderValue::from_str(&host)
            .map_err(|e| protocol(format!("the Runtime API host is not a header value: {e}")))?;
        HeaderValue::from_str(&id.0)
            .map_err(|e| protocol(format!("the extension id is not a header value: {e}")))?;
        // Origin form: the connection is to the Runtime API host itself.
        let path = PathAndQuery::try_from(format!("{}{NEXT_PATH}", api.base_path()))
            .map_err(|e| protocol(format!("bad request path: {e}")))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nhost: {host}\r\n{EXTENSION_ID_HEADER}: {id}\r\n\r\n",
            id = id.0
        );
        Ok(Self {
            connection: KeptConnection::new(authority),
            request: Bytes::from(request),
        })
    }

    /// Waits for the next event. No timeout: the call legitimately spans freezes.
    pub async fn next(&mut self) -> Result<ExtensionEvent, LifecycleError> {
        const CALL: &str = "event/next";
        let answer = self
            .connection
            .exchange(&self.request, &[], MAX_ANSWER_BYTES)
            .await
            .map_err(|e| {
                if e.after_head() {
                    LifecycleError::Protocol {
                        call: CALL,
                        detail: e.to_string(),
                    }
                } else {
                    LifecycleError::Transport(e.to_string())
                }
            })?;
        if answer.status != StatusCode::OK {
            return Err(status_error(CALL, answer.status, &answer.body));
        }
        ExtensionEvent::parse(&answer.body)
    }
}

/// An answer's status, headers and body, the body bounded by [`MAX_ANSWER_BYTES`].
async fn read_answer<B>(
    call: &'static str,
    resp: http::Response<B>,
) -> Result<(StatusCode, http::HeaderMap, Bytes), LifecycleError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = resp.into_parts();
    let mut body = pin!(http_body_util::Limited::new(body, MAX_ANSWER_BYTES));
    // One data frame, the usual answer, is kept as it came; only a split body is copied together.
    let mut first = Bytes::new();
    let mut joined = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| LifecycleError::Protocol {
            call,
            detail: format!("reading the answer: {e}"),
        })?;
        // Trailers carry nothing the Extensions API uses.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if first.is_empty() {
            first = data;
        } else {
            if joined.is_empty() {
                joined.extend_from_slice(&first);
            }
            joined.extend_from_slice(&data);
        }
    }
    let body = if joined.is_empty() {
        first
    } else {
        joined.freeze()
    };
    Ok((parts.status, parts.headers, body))
}

fn status_error(call: &'static str, status: StatusCode, body: &[u8]) -> LifecycleError {
    LifecycleError::Status {
        call,
        status,
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::MANAGED_INSTANCES;

    #[tokio::test]
    async fn the_event_poll_sends_one_fixed_head_and_reads_events_in_either_framing() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind an ephemeral port");
        let port = listener.local_addr().expect("local address").port();
        let api = RuntimeApiEndpoint::parse(&format!("127.0.0.1:{port}")).expect("an endpoint");
        let mut poller =
            EventPoller::new(&api, &ExtensionId("ext-1".into())).expect("a valid request");
        let expected = format!(
            "GET /2020-01-01/extension/event/next HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nlambda-extension-identifier: ext-1\r\n\r\n"
        );
        let invoke = r#"{"eventType":"INVOKE","deadlineMs":7,"requestId":"r-1"}"#;
        let shutdown = r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":9}"#;
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let (split_at, rest) = invoke.split_at(10);
            let answers = [
                format!(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{split_at}\r\n{:x}\r\n{rest}\r\n0\r\n\r\n",
                    split_at.len(),
                    rest.len()
                ),
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{shutdown}",
                    shutdown.len()
                ),
            ];
            for answer in answers {
                let mut got = vec![0; expected.len()];
                stream.read_exact(&mut got).await.expect("a request");
                assert_eq!(String::from_utf8_lossy(&got), expected);
                stream.write_all(answer.as_bytes()).await.expect("answer");
            }
        });
        assert_eq!(
            poller.next().await.expect("INVOKE"),
            ExtensionEvent::Invoke(InvokeEvent {
                request_id: RequestId::new("r-1"),
                deadline_ms: 7,
                invoked_function_arn: None,
                tracing: None,
            })
        );
        assert_eq!(
            poller.next().await.expect("SHUTDOWN"),
            ExtensionEvent::Shutdown {
                reason: ShutdownReason::Spindown,
                deadline_ms: 9
            }
        );
        server.await.expect("the server's script");
    }

    #[test]
    fn managed_instances_register_for_shutdown_only() {
        assert_eq!(
            Subscription::for_initialization_type(Some(MANAGED_INSTANCES)),
            Subscription::ShutdownOnly
        );
        for other in [Some("on-demand"), Some("provisioned-concurrency"), None] {
            assert_eq!(
                Subscription::for_initialization_type(other),
                Subscription::InvokeAndShutdown
            );
        }
        assert_eq!(
            Subscription::ShutdownOnly.body(),
            r#"{"events":["SHUTDOWN"]}"#
        );
    }

    #[test]
    fn parses_invoke_with_and_without_tracing() {
        let with = br#"{"eventType":"INVOKE","deadlineMs":1700000000123,"requestId":"r-1",
            "invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f",
            "tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}}"#;
        assert_eq!(
            ExtensionEvent::parse(with).expect("valid INVOKE"),
            ExtensionEvent::Invoke(InvokeEvent {
                request_id: RequestId::new("r-1"),
                deadline_ms: 1_700_000_000_123,
                invoked_function_arn: Some(
                    "arn:aws:lambda:us-east-1:123456789012:function:f".into()
                ),
                tracing: Some(EventTracing {
                    value: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into()
                }),
            })
        );
        let without = br#"{"eventType":"INVOKE","deadlineMs":5,"requestId":"r-2","invokedFunctionArn":"a","extra":1}"#;
        assert!(matches!(
            ExtensionEvent::parse(without).expect("INVOKE without tracing"),
            ExtensionEvent::Invoke(InvokeEvent { tracing: None, .. })
        ));
        // Only the value is read: a `tracing` object without (or with an odd) `type` is still an
        // INVOKE, never an event skipped; a malformed one is no trace context.
        for malformed in [r#"{"value":7}"#, "[]", r#""Root=1-5759e988""#, "null"] {
            let event = format!(
                r#"{{"eventType":"INVOKE","deadlineMs":5,"requestId":"r-4","tracing":{malformed}}}"#
            );
            assert!(
                matches!(
                    ExtensionEvent::parse(event.as_bytes()),
                    Ok(ExtensionEvent::Invoke(InvokeEvent { tracing: None, .. }))
                ),
                "{malformed}"
            );
        }
        for odd in [
            r#"{"value":"Root=1-5759e988-bd862e3fe1be46a994272793"}"#,
            r#"{"type":7,"value":"Root=1-5759e988-bd862e3fe1be46a994272793"}"#,
        ] {
            let event = format!(
                r#"{{"eventType":"INVOKE","deadlineMs":5,"requestId":"r-3","tracing":{odd}}}"#
            );
            assert!(
                matches!(
                    ExtensionEvent::parse(event.as_bytes()),
                    Ok(ExtensionEvent::Invoke(InvokeEvent {
                        tracing: Some(_),
                        ..
                    }))
                ),
                "{odd}"
            );
        }
        let empty_value = br#"{"eventType":"INVOKE","deadlineMs":0,"requestId":"r","tracing":{"type":"x-amzn-trace-id","value":""}}"#;
        assert!(matches!(
            ExtensionEvent::parse(empty_value).expect("emulator INVOKE"),
            ExtensionEvent::Invoke(InvokeEvent { tracing: None, .. })
        ));
    }

    #[test]
    fn a_request_id_that_is_not_a_string_is_refused_as_before() {
        let refused = ExtensionEvent::parse(br#"{"eventType":"INVOKE","requestId":7}"#)
            .expect_err("a request id that is not a string");
        assert_eq!(
            refused.to_string(),
            "unexpected answer to event/next: invalid type: integer `7`, expected a string at line 1 column 35"
        );
    }

    #[test]
    fn parses_escaped_event_types_and_request_ids() {
        let escaped = br#"{"eventType":"INV\u004fKE","deadlineMs":3,"requestId":"r\/1"}"#;
        assert_eq!(
            ExtensionEvent::parse(escaped).expect("escaped INVOKE"),
            ExtensionEvent::Invoke(InvokeEvent {
                request_id: RequestId::new("r/1"),
                deadline_ms: 3,
                invoked_function_arn: None,
                tracing: None,
            })
        );
    }

    #[test]
    fn parses_shutdown_reasons_case_insensitively() {
        for (raw, reason) in [
            ("spindown", ShutdownReason::Spindown),
            ("SPINDOWN", ShutdownReason::Spindown),
            ("timeout", ShutdownReason::Timeout),
            ("FAILURE", ShutdownReason::Failure),
            (
                "SandboxTerminated",
                ShutdownReason::Other("SandboxTerminated".into()),
            ),
        ] {
            let body =
                format!(r#"{{"eventType":"SHUTDOWN","shutdownReason":"{raw}","deadlineMs":42}}"#);
            assert_eq!(
                ExtensionEvent::parse(body.as_bytes()).expect("valid SHUTDOWN"),
                ExtensionEvent::Shutdown {
                    reason,
                    deadline_ms: 42
                }
            );
        }
    }

    #[test]
    fn rejects_unknown_or_malformed_events() {
        assert!(ExtensionEvent::parse(br#"{"eventType":"RESTORE"}"#).is_err());
        assert!(ExtensionEvent::parse(b"not json").is_err());
        assert!(ExtensionEvent::parse(br#"{"eventType":"INVOKE"}"#).is_err());
    }
}
