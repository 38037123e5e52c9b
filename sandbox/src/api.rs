//! The sandbox's single loopback listener: Runtime API (2018-06-01), Extensions API (2020-01-01),
//! Telemetry API (2022-07-01) and the Logs API (2020-08-15) stub, with rapid's status codes and errors.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use crate::body::{
    accepted, error_response, json_response, read_limited, HttpBody, ReadError, MAX_PAYLOAD,
};
use crate::clock::Stamp;
use crate::core::{
    Core, ExtensionNextCall, ExtensionPhase, ExtensionSlot, FunctionResponse, LifecycleEvent,
    NextEvent, PlatformError, RuntimePhase, State,
};
use crate::ids::{is_uuid, ExtensionId, RequestId};
use crate::model::{EventKind, Status};
use crate::telemetry::{parse_subscription, SchemaVersion};

/// Most extensions one function may have.
const MAX_EXTENSIONS: usize = 10;
const EXTENSION_ID: &str = "lambda-extension-identifier";
const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

type ApiResult = Result<Response<HttpBody>, ApiError>;

/// An API error, rendered as `{"errorMessage","errorType"}` with its status.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    error_type: String,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, error_type: &str, message: &str) -> Self {
        Self {
            status,
            error_type: error_type.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// Routes one request to its API family by path prefix, as rapid does.
pub(crate) async fn handle(core: Arc<Core>, req: Request<Incoming>) -> Response<HttpBody> {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let result = match (req.method().clone(), segments.as_slice()) {
        (Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => runtime_next(&core).await,
        (Method::POST, ["2018-06-01", "runtime", "invocation", id, "response"]) => {
            runtime_response(&core, RequestId::from(*id), req).await
        }
        (Method::POST, ["2018-06-01", "runtime", "invocation", id, "error"]) => {
            runtime_error(&core, RequestId::from(*id), req).await
        }
        (Method::POST, ["2018-06-01", "runtime", "init", "error"]) => {
            runtime_init_error(&core, req).await
        }
        (Method::GET, ["2018-06-01", "runtime", "restore", "next"]) => {
            runtime_restore_next(&core).await
        }
        (Method::POST, ["2018-06-01", "runtime", "restore", "error"]) => {
            runtime_restore_error(&core, req).await
        }
        (Method::POST, ["2020-01-01", "extension", "register"]) => {
            extension_register(&core, req).await
        }
        (Method::GET, ["2020-01-01", "extension", "event", "next"]) => {
            extension_next(&core, req.headers()).await
        }
        (Method::POST, ["2020-01-01", "extension", "init", "error"]) => {
            extension_error(&core, req, true).await
        }
        (Method::POST, ["2020-01-01", "extension", "exit", "error"]) => {
            extension_error(&core, req, false).await
        }
        (Method::PUT, ["2022-07-01", "telemetry"]) => telemetry_subscribe(&core, req).await,
        (Method::PUT, ["2020-08-15", "logs"]) => logs_subscribe(&core, req.headers()),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("No route for {} {path}", req.method()),
        )),
    };
    result.unwrap_or_else(|e| error_response(e.status, &e.error_type, &e.message))
}

fn forbidden(error_type: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, error_type, message)
}

/// A held runtime call whose environment went away under it.
fn reset_error() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Runtime.Reset",
        "The execution environment is being reset",
    )
}

/// The runtime's `Lambda-Runtime-Function-Error-Type`, if it sent a readable one.
fn error_type_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(ERROR_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn invalid_transition(from: RuntimePhase, to: &str) -> ApiError {
    forbidden(
        "InvalidStateTransition",
        &format!("State transition from {from:?} to {to} failed for runtime. Error: State transition is not allowed"),
    )
}

// ---------------------------------------------------------------------------------------------
// Runtime API

async fn runtime_next(core: &Core) -> ApiResult {
    let managed = core.config.initialization.is_managed();
    let rx = core.update(|st| {
        if managed {
            return Ok(managed_next(st));
        }
        match st.runtime {
            RuntimePhase::Started | RuntimePhase::Responded => {}
            // A runtime whose earlier /next connection went away may ask again.
            RuntimePhase::Ready if !st.runtime_waiting() => {}
            other => return Err(invalid_transition(other, "Ready")),
        }
        if st.runtime == RuntimePhase::Started {
            // Registration closes at the runtime's first /next.
            st.registration_open = false;
        }
        if st.runtime == RuntimePhase::Responded {
            if let Some(inv) = st.invokes.first_mut() {
                inv.runtime_done = Some(Stamp::now());
            }
        }
        st.runtime = RuntimePhase::Ready;
        let (tx, rx) = oneshot::channel();
        st.runtime_waiters = VecDeque::from([tx]);
        Ok(rx)
    })?;
    let event = rx.await.map_err(|_| reset_error())?;
    Ok(render_next(event))
}

/// `/next` on Managed Instances: one more waiting call. There is no per-runtime state to check, each
/// invocation carries its own; how many run at once is bounded where they are handed out.
fn managed_next(st: &mut State) -> oneshot::Receiver<NextEvent> {
    st.runtime_waiters.retain(|w| !w.is_closed());
    if st.runtime == RuntimePhase::Started {
        // Registration closes at the runtime's first /next.
        st.registration_open = false;
        st.runtime = RuntimePhase::Ready;
    }
    let (tx, rx) = oneshot::channel();
    st.runtime_waiters.push_back(tx);
    rx
}

fn render_next(ev: NextEvent) -> Response<HttpBody> {
    let mut b = Response::builder()
        .status(StatusCode::OK)
        .header("Lambda-Runtime-Aws-Request-Id", ev.request_id.as_str())
        .header("Lambda-Runtime-Deadline-Ms", ev.deadline_ms.to_string())
        .header("Lambda-Runtime-Invoked-Function-Arn", ev.function_arn)
        .header(header::CONTENT_TYPE, "application/json");
    // rapid omits these headers when they are empty.
    for (name, value) in [
        ("Lambda-Runtime-Trace-Id", ev.trace_header),
        ("Lambda-Runtime-Client-Context", ev.client_context),
        ("Lambda-Runtime-Cognito-Identity", ev.cognito_identity),
        ("Lambda-Runtime-Aws-Tenant-Id", ev.tenant_id),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            b = b.header(name, v);
        }
    }
    b.body(crate::body::full(ev.payload))
        .expect("next response headers are valid")
}

/// Checks that `id` is an invocation the runtime may answer now and moves it to `to`.
fn begin_answer(
    st: &mut State,
    id: &RequestId,
    to: RuntimePhase,
    managed: bool,
) -> Result<Option<oneshot::Sender<FunctionResponse>>, ApiError> {
    let runtime = st.runtime;
    if st.invokes.is_empty() && !managed {
        return Err(invalid_transition(runtime, "InvocationResponse"));
    }
    // Disjoint field borrows: the slot is held while the runtime phase moves.
    let Some(inv) = st.invokes.iter_mut().find(|i| i.request_id == *id) else {
        return Err(invalid_request_id());
    };
    if managed {
        // An answer already under way for this invocation: rapid's "response in progress".
        if inv.first_byte.is_some() {
            return Err(invalid_request_id());
        }
    } else if runtime != RuntimePhase::Invoked {
        return Err(invalid_transition(runtime, "InvocationResponse"));
    } else {
        st.runtime = to;
    }
    inv.first_byte = Some(Stamp::now());
    Ok(inv.response_tx.take())
}

fn invalid_request_id() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

/// Records the end of the runtime's answer, if `id` is still in progress.
fn finish_answer(core: &Core, id: &RequestId, produced_bytes: u64, function_error: Option<String>) {
    let managed = core.config.initialization.is_managed();
    core.update(|st| {
        if let Some(inv) = st.invoke_mut(id) {
            inv.response_end = Some(Stamp::now());
            inv.produced_bytes = produced_bytes;
            inv.function_error = function_error;
            if !managed {
                st.runtime = RuntimePhase::Responded;
            }
        }
    });
}

async fn runtime_response(core: &Core, id: RequestId, req: Request<Incoming>) -> ApiResult {
    let streaming = match req
        .headers()
        .get("lambda-runtime-function-response-mode")
        .map(|v| v.to_str())
    {
        None => false,
        Some(Ok(v)) if v.eq_ignore_ascii_case("streaming") => true,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidFunctionResponseMode",
                "Invalid function response mode",
            ))
        }
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let trailer = req
        .headers()
        .get(header::TRAILER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let target = if streaming {
        RuntimePhase::Responding
    } else {
        RuntimePhase::Responded
    };
    let managed = core.config.initialization.is_managed();
    let response_tx = core.update(|st| begin_answer(st, &id, target, managed))?;
    if !streaming {
        return match read_limited(req.into_body(), MAX_PAYLOAD).await {
            Ok(body) => {
                let len = body.len() as u64;
                if let Some(tx) = response_tx {
                    let _ = tx.send(FunctionResponse::full(None, content_type, body));
                }
                finish_answer(core, &id, len, None);
                Ok(accepted())
            }
            Err(ReadError::TooLarge) => {
                let err = PlatformError::new(
                    "Function.ResponseSizeTooLarge",
                    Status::Error,
                    format!("Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes)."),
                );
                if let Some(tx) = response_tx {
                    let _ = tx.send(FunctionResponse::platform_error(&err));
                }
                finish_answer(core, &id, 0, Some(err.error_type));
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLarge",
                    &format!("Exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes)."),
                ))
            }
            Err(ReadError::Truncated) => {
                let err = PlatformError::new(
                    "Runtime.TruncatedResponse",
                    Status::Error,
                    "The runtime's response was truncated",
                );
                if let Some(tx) = response_tx {
                    let _ = tx.send(FunctionResponse::platform_error(&err));
                }
                finish_answer(core, &id, 0, Some(err.error_type));
                Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "TruncatedHTTPRequest",
                    "The request body was truncated",
                ))
            }
        };
    }
    // Streaming: hand the caller a channel now and pass frames (data and trailers) through unbuffered.
    let (tx, rx) = mpsc::channel(64);
    if let Some(response_tx) = response_tx {
        let _ = response_tx.send(FunctionResponse {
            error_type: None,
            content_type,
            streaming: true,
            trailer,
            body: rx,
        });
    }
    let mut body = req.into_body();
    let mut produced = 0u64;
    let mut truncated = false;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                produced += frame.data_ref().map_or(0, |d| d.len() as u64);
                // A caller that hung up must not stop us from draining the runtime.
                let _ = tx.send(frame).await;
            }
            Err(_) => {
                truncated = true;
                break;
            }
        }
    }
    finish_answer(
        core,
        &id,
        produced,
        truncated.then(|| "Runtime.TruncatedResponse".to_owned()),
    );
    Ok(accepted())
}

/// The platform's view of a runtime-supplied error type: kept if it looks like `Runtime.X`/`Function.X`.
fn platform_error_type(header: Option<&str>) -> String {
    let valid = header
        .and_then(|h| h.split_once('.'))
        .is_some_and(|(cat, reason)| {
            matches!(cat, "Runtime" | "Function")
                && reason
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_uppercase())
                && reason.chars().all(|c| c.is_ascii_alphabetic())
        });
    match header {
        Some(h) if valid => h.to_owned(),
        Some(h) if h.starts_with("Function.") => "Function.Unknown".to_owned(),
        _ => "Runtime.Unknown".to_owned(),
    }
}

async fn runtime_error(core: &Core, id: RequestId, req: Request<Incoming>) -> ApiResult {
    let header_type = error_type_header(req.headers());
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let managed = core.config.initialization.is_managed();
    let response_tx = core.update(|st| begin_answer(st, &id, RuntimePhase::Responded, managed))?;
    let body = read_limited(req.into_body(), MAX_PAYLOAD)
        .await
        .unwrap_or_default();
    let caller_type = header_type
        .clone()
        .unwrap_or_else(|| "Unhandled".to_owned());
    let body = if body.is_empty() {
        Bytes::from(json!({"errorMessage": "", "errorType": caller_type}).to_string())
    } else {
        body
    };
    let len = body.len() as u64;
    if let Some(tx) = response_tx {
        let ct = content_type.or_else(|| Some("application/json".to_owned()));
        let _ = tx.send(FunctionResponse::full(Some(caller_type), ct, body));
    }
    finish_answer(
        core,
        &id,
        len,
        Some(platform_error_type(header_type.as_deref())),
    );
    Ok(accepted())
}

async fn runtime_init_error(core: &Core, req: Request<Incoming>) -> ApiResult {
    let header_type = error_type_header(req.headers());
    core.read(|st| match st.runtime {
        RuntimePhase::Started => Ok(()),
        other => Err(invalid_transition(other, "InitError")),
    })?;
    let body = read_limited(req.into_body(), MAX_PAYLOAD)
        .await
        .unwrap_or_default();
    let error_type = platform_error_type(header_type.as_deref());
    let mut err = PlatformError::new(
        &error_type,
        Status::Error,
        "The runtime reported an init error",
    );
    err.body = Some(if body.is_empty() {
        Bytes::from(json!({"errorMessage": err.message, "errorType": error_type}).to_string())
    } else {
        body
    });
    core.update(|st| st.init_error.get_or_insert(err).clone());
    Ok(accepted())
}

/// SnapStart: the runtime's init is done and it waits for the restore (rapid's `RestoreReady`). The
/// call answers once the environment is restored; the runtime then runs its after-restore hooks and
/// calls `/next`.
async fn runtime_restore_next(core: &Core) -> ApiResult {
    let snap_start = core.config.initialization.is_snap_start();
    let rx = core.update(|st| match st.runtime {
        RuntimePhase::Started if snap_start => {
            // Registration closes when the runtime's init is done, as at a first /next.
            st.registration_open = false;
            st.runtime = RuntimePhase::Ready;
            let (tx, rx) = oneshot::channel();
            st.restore_waiter = Some(tx);
            Ok(rx)
        }
        other => Err(invalid_transition(other, "RestoreReady")),
    })?;
    rx.await.map_err(|_| reset_error())?;
    Ok(json_response(StatusCode::OK, &json!({})))
}

/// SnapStart: an after-restore hook failed; the restore fails with the runtime's error type.
async fn runtime_restore_error(core: &Core, req: Request<Incoming>) -> ApiResult {
    let header_type = error_type_header(req.headers());
    // After the restore released `/restore/next` and before the runtime is back in `/next`.
    let (restoring, phase) = core.read(|st| {
        let restoring = st.runtime == RuntimePhase::Ready
            && st.restore_waiter.is_none()
            && !st.runtime_waiting();
        (restoring, st.runtime)
    });
    if !core.config.initialization.is_snap_start() || !restoring {
        return Err(invalid_transition(phase, "RestoreError"));
    }
    let error_type = platform_error_type(header_type.as_deref());
    let err = PlatformError::new(
        &error_type,
        Status::Error,
        "The runtime reported a restore error",
    );
    core.update(|st| st.restore_error.get_or_insert(err).clone());
    Ok(accepted())
}

// ---------------------------------------------------------------------------------------------
// Extensions API

/// Resolves `Lambda-Extension-Identifier` with rapid's three distinct 403s.
fn extension_id(core: &Core, headers: &HeaderMap) -> Result<ExtensionId, ApiError> {
    let Some(raw) = headers.get(EXTENSION_ID).and_then(|v| v.to_str().ok()) else {
        return Err(forbidden(
            "Extension.MissingExtensionIdentifier",
            "Missing Lambda-Extension-Identifier header",
        ));
    };
    if !is_uuid(raw) {
        return Err(forbidden(
            "Extension.InvalidExtensionIdentifier",
            "Invalid Lambda-Extension-Identifier",
        ));
    }
    if !core.read(|st| st.extensions.iter().any(|e| e.id == *raw)) {
        return Err(forbidden(
            "Extension.UnknownExtensionIdentifier",
            "Unknown extension identifier",
        ));
    }
    Ok(ExtensionId::from(raw))
}

async fn extension_register(core: &Arc<Core>, req: Request<Incoming>) -> ApiResult {
    let name = req
        .headers()
        .get("lambda-extension-name")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let wants_account = req
        .headers()
        .get("lambda-extension-accept-feature")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|f| f.trim() == "accountId"));
    if name.is_empty() {
        return Err(forbidden(
            "Extension.InvalidExtensionName",
            "Empty extension name",
        ));
    }
    let body = read_limited(req.into_body(), MAX_PAYLOAD)
        .await
        .unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_slice(&body).ok().filter(Value::is_object);
    let Some(parsed) = parsed else {
        return Err(forbidden(
            "InvalidRequestFormat",
            "Register request body must be a JSON object",
        ));
    };
    if parsed.get("configurationKeys").is_some() {
        return Err(forbidden(
            "InvalidRequestFormat",
            "configurationKeys is not supported",
        ));
    }
    let mut events = Vec::new();
    for e in parsed
        .get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = e.as_str().and_then(EventKind::parse).ok_or_else(|| {
            forbidden(
                "Extension.InvalidEventType",
                &format!("Unknown event type {e}"),
            )
        })?;
        if !events.contains(&kind) {
            events.push(kind);
        }
    }
    let id = ExtensionId::random();
    let managed = core.config.initialization.is_managed();
    core.update(|st| {
        if !st.registration_open {
            return Err(forbidden(
                "Extension.RegistrationClosed",
                "Extension registration is closed",
            ));
        }
        if st.extensions.iter().any(|e| e.name == name) {
            return Err(forbidden(
                "Extension.InvalidExtensionState",
                &format!("Extension {name} is already registered"),
            ));
        }
        if st.extensions.len() >= MAX_EXTENSIONS {
            return Err(forbidden(
                "Extension.TooManyExtensions",
                "Too many extensions registered",
            ));
        }
        let internal = !st.extension_files.contains(&name);
        if managed && !internal {
            if let Some(refused) = events.iter().find(|e| **e != EventKind::Shutdown) {
                // Managed Instances deliver no INVOKE: extensions may ask for SHUTDOWN only.
                return Err(forbidden(
                    "Extension.InvalidEventType",
                    &format!("{}: ErrorInvalidEventType", refused.as_str()),
                ));
            }
        }
        if managed && internal && !events.is_empty() {
            return Err(forbidden(
                "Extension.InvalidEventType",
                "No events allowed for internal extensions",
            ));
        }
        if internal && events.contains(&EventKind::Shutdown) {
            return Err(forbidden(
                "Extension.InvalidEventType",
                "SHUTDOWN is not supported for internal extensions",
            ));
        }
        st.extensions.push(ExtensionSlot {
            id: id.clone(),
            name: name.clone(),
            events: events.clone(),
            phase: ExtensionPhase::Registered,
            waiter: None,
            queued: None,
            pending_invoke: None,
        });
        Ok(())
    })?;
    core.announce(LifecycleEvent::ExtensionRegistered {
        name,
        id: id.clone(),
        events,
    });
    let cfg = &core.config;
    let mut body = json!({
        "functionName": cfg.function_name,
        "functionVersion": cfg.function_version,
        "handler": cfg.handler,
    });
    if let (true, Some(account)) = (wants_account, &cfg.account_id) {
        body["accountId"] = Value::String(account.clone());
    }
    let mut resp = json_response(StatusCode::OK, &body);
    resp.headers_mut().insert(
        "Lambda-Extension-Identifier",
        id.as_str().parse().expect("uuids are valid header values"),
    );
    Ok(resp)
}

enum NextStep {
    Now(Value),
    Wait(oneshot::Receiver<Value>),
}

async fn extension_next(core: &Arc<Core>, headers: &HeaderMap) -> ApiResult {
    let id = extension_id(core, headers)?;
    let finished = core.update(|st| {
        let ext = st
            .extension_mut(id.as_str())
            .expect("extension_id checked the id");
        match ext.phase {
            ExtensionPhase::Errored => Err(forbidden(
                "Extension.InvalidExtensionState",
                "Extension is in an error state",
            )),
            ExtensionPhase::Waiting if ext.waiter.as_ref().is_some_and(|w| !w.is_closed()) => {
                Err(forbidden(
                    "Extension.InvalidExtensionState",
                    "Extension is already waiting for an event",
                ))
            }
            _ => Ok(ext.pending_invoke.take().map(|r| (ext.name.clone(), r))),
        }
    })?;
    if let Some((name, request_id)) = finished {
        core.announce(LifecycleEvent::ExtensionNext {
            name: name.clone(),
            request_id: request_id.clone(),
        });
        let hook = core.next_hook.lock().expect("hook lock poisoned").clone();
        if let Some(hook) = hook {
            hook(ExtensionNextCall {
                name,
                id: id.clone(),
                request_id,
            })
            .await;
        }
    }
    let step = core.update(|st| {
        let Some(ext) = st.extension_mut(id.as_str()) else {
            return Err(forbidden(
                "Extension.UnknownExtensionIdentifier",
                "Unknown extension identifier",
            ));
        };
        if let Some(event) = ext.queued.take() {
            ext.phase = ExtensionPhase::Busy;
            return Ok(NextStep::Now(event));
        }
        ext.phase = ExtensionPhase::Waiting;
        let (tx, rx) = oneshot::channel();
        ext.waiter = Some(tx);
        Ok(NextStep::Wait(rx))
    })?;
    let event = match step {
        NextStep::Now(event) => event,
        NextStep::Wait(rx) => rx.await.map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Extension.Reset",
                "The execution environment is being reset",
            )
        })?,
    };
    let mut resp = json_response(StatusCode::OK, &event);
    resp.headers_mut().insert(
        "Lambda-Extension-Event-Identifier",
        ExtensionId::random()
            .as_str()
            .parse()
            .expect("uuids are valid header values"),
    );
    Ok(resp)
}

async fn extension_error(core: &Core, req: Request<Incoming>, during_init: bool) -> ApiResult {
    let id = extension_id(core, req.headers())?;
    let Some(reported) = req
        .headers()
        .get("lambda-extension-function-error-type")
        .and_then(|v| v.to_str().ok())
    else {
        return Err(forbidden(
            "Extension.MissingHeader",
            "Missing Lambda-Extension-Function-Error-Type header",
        ));
    };
    let reported = reported.to_owned();
    // The body is optional and only informative.
    let _ = read_limited(req.into_body(), MAX_PAYLOAD).await;
    core.update(|st| {
        let in_init = st.subscription_open;
        let ext = st
            .extension_mut(id.as_str())
            .expect("extension_id checked the id");
        if ext.phase == ExtensionPhase::Errored {
            return Err(forbidden(
                "Extension.InvalidExtensionState",
                "Extension is in an error state",
            ));
        }
        ext.phase = ExtensionPhase::Errored;
        let name = ext.name.clone();
        let (error_type, message) = if during_init {
            (
                "Extension.InitError",
                format!("Extension {name} init failed: {reported}"),
            )
        } else {
            (
                "Extension.ExitError",
                format!("Extension {name} exited with error: {reported}"),
            )
        };
        let err = PlatformError::new(error_type, Status::Error, message);
        if during_init && in_init {
            st.init_error.get_or_insert(err);
        } else if st.stopping.is_none() {
            st.failure.get_or_insert(err);
        }
        Ok(accepted())
    })
}

// ---------------------------------------------------------------------------------------------
// Telemetry and Logs APIs

async fn telemetry_subscribe(core: &Core, req: Request<Incoming>) -> ApiResult {
    let id = extension_id(core, req.headers())?;
    if !core.read(|st| st.subscription_open) {
        return Err(forbidden(
            "Telemetry.SubscriptionClosed",
            "Telemetry API subscription is closed",
        ));
    }
    let body = read_limited(req.into_body(), MAX_PAYLOAD)
        .await
        .unwrap_or_default();
    let sub = parse_subscription(&body)
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "ValidationError", &m))?;
    if core.config.initialization.is_managed() && sub.schema != SchemaVersion::V2025_01_29 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "schema validation error: schemaVersion must be 2025-01-29 on Lambda Managed Instances",
        ));
    }
    let name = core
        .read(|st| {
            st.extensions
                .iter()
                .find(|e| e.id == id)
                .map(|e| e.name.clone())
        })
        .unwrap_or_default();
    let types = sub.type_names.clone();
    core.hub.subscribe(id, sub);
    core.hub.emit_platform(
        "platform.telemetrySubscription",
        json!({"name": name, "state": "Subscribed", "types": types}),
    );
    Ok(json_response(StatusCode::OK, &json!("OK")))
}

fn logs_subscribe(core: &Core, headers: &HeaderMap) -> ApiResult {
    extension_id(core, headers)?;
    Ok(error_response(
        StatusCode::ACCEPTED,
        "Logs.NotSupported",
        "Logs API is not supported",
    ))
}

#[cfg(test)]
mod tests {
    use super::platform_error_type;

    #[test]
    fn error_type_validation() {
        assert_eq!(
            platform_error_type(Some("Runtime.ImportModuleError")),
            "Runtime.ImportModuleError"
        );
        assert_eq!(
            platform_error_type(Some("Function.Custom")),
            "Function.Custom"
        );
        assert_eq!(
            platform_error_type(Some("Function.bad")),
            "Function.Unknown"
        );
        assert_eq!(platform_error_type(Some("Unhandled")), "Runtime.Unknown");
        assert_eq!(platform_error_type(None), "Runtime.Unknown");
    }
}
