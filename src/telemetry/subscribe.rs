//! The Telemetry API subscription: `PUT /2022-07-01/telemetry` during init, newest schema first.

use http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;

use crate::lifecycle::EXTENSION_ID_HEADER;
use crate::platform_http::{error_chain, ApiBody, PlatformClient};
use crate::settings::RuntimeApiEndpoint;

const TELEMETRY_PATH: &str = "/2022-07-01/telemetry";
/// Largest subscription answer read; the platform answers `"OK"` or a short error JSON.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The documented minimum; a batch is cut after 1,000 events anyway at the shortest timeout.
pub(super) const BUFFER_MAX_ITEMS: u32 = 1000;
/// The documented minimum (256 KiB), which keeps deliveries small.
const BUFFER_MAX_BYTES: u32 = 262_144;
/// The documented minimum: the extension waits for `platform.runtimeDone` before it may call
/// `/event/next`, so every millisecond of buffering delays the next invocation.
const BUFFER_TIMEOUT_MS: u32 = 25;

/// Outcome of a subscription the platform accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    /// Subscribed (200); events are delivered in this schema version.
    Subscribed(SchemaVersion),
    /// Answered 202, the AWS Runtime Interface Emulator's "Telemetry API is not supported": nothing
    /// will ever be delivered.
    NotSupported,
}

/// A Telemetry API schema version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaVersion {
    /// `2025-01-29`: required on Lambda Managed Instances, accepted everywhere current.
    V2025_01_29,
    /// `2022-12-13`: JSON log records as objects.
    V2022_12_13,
    /// `2022-07-01`: the first version; log records are strings.
    V2022_07_01,
}

impl SchemaVersion {
    /// Tried in this order: an older platform answers 400 to a version it does not know.
    const PREFERENCE: [Self; 3] = [Self::V2025_01_29, Self::V2022_12_13, Self::V2022_07_01];

    /// The version as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2025_01_29 => "2025-01-29",
            Self::V2022_12_13 => "2022-12-13",
            Self::V2022_07_01 => "2022-07-01",
        }
    }
}

/// A subscription that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// The request could not be built (an extension id that is not a header value) or sent.
    #[error("Telemetry API unreachable: {0}")]
    Transport(String),
    /// The API refused the subscription (for 400, after every schema version was tried).
    #[error("Telemetry API refused the subscription with {status}: {body}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The answer's body (the API's error JSON).
        body: String,
    },
}

/// Subscribes `extension_id` to the `platform`, `function` and `extension` events, delivered to
/// `http://sandbox.localdomain:{port}` with the smallest buffering the API allows (the extension
/// waits for `platform.runtimeDone` before it may call `/event/next`).
///
/// Schema versions are tried newest first, falling back to an older one when answered 400. 200 is
/// [`Subscription::Subscribed`] with the version accepted; 202, the AWS emulator's "Telemetry API is
/// not supported", is [`Subscription::NotSupported`].
pub async fn subscribe(
    client: &PlatformClient,
    api: &RuntimeApiEndpoint,
    extension_id: &str,
    port: u16,
) -> Result<Subscription, SubscribeError> {
    let mut refused = None;
    for version in SchemaVersion::PREFERENCE {
        let (status, body) = put(client, api, extension_id, request_body(version, port)).await?;
        match status {
            StatusCode::OK => return Ok(Subscription::Subscribed(version)),
            StatusCode::ACCEPTED => return Ok(Subscription::NotSupported),
            StatusCode::BAD_REQUEST => {
                tracing::debug!(schema = version.as_str(), %body, "schema version refused; trying an older one");
                refused = Some(SubscribeError::Rejected {
                    status: status.as_u16(),
                    body,
                });
            }
            _ => {
                return Err(SubscribeError::Rejected {
                    status: status.as_u16(),
                    body,
                })
            }
        }
    }
    Err(refused.expect("every schema version was refused with 400 to get here"))
}

/// The subscription document for `version`.
fn request_body(version: SchemaVersion, port: u16) -> String {
    serde_json::json!({
        "schemaVersion": version.as_str(),
        "types": ["platform", "function", "extension"],
        "buffering": {
            "maxItems": BUFFER_MAX_ITEMS,
            "maxBytes": BUFFER_MAX_BYTES,
            "timeoutMs": BUFFER_TIMEOUT_MS,
        },
        "destination": {
            "protocol": "HTTP",
            "URI": format!("http://sandbox.localdomain:{port}"),
        },
    })
    .to_string()
}

/// One PUT; returns the status and the (bounded, lossily decoded) answer body.
async fn put(
    client: &PlatformClient,
    api: &RuntimeApiEndpoint,
    extension_id: &str,
    body: String,
) -> Result<(StatusCode, String), SubscribeError> {
    let req = Request::builder()
        .method(Method::PUT)
        .uri(api.uri(TELEMETRY_PATH))
        .header(EXTENSION_ID_HEADER, extension_id)
        .header(header::CONTENT_TYPE, "application/json")
        .body(ApiBody::local(body))
        .map_err(|e| SubscribeError::Transport(format!("cannot build the request: {e}")))?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| SubscribeError::Transport(error_chain(&e)))?;
    let (parts, body) = resp.into_parts();
    let text = match http_body_util::Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await
    {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(e) => format!("(answer unreadable: {})", error_chain(&*e)),
    };
    Ok((parts.status, text))
}
