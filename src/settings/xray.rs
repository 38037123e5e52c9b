//! Direct export to AWS X-Ray (`LAMBDA_LENS_EXPORT_TARGET=xray`): the endpoint override
//! (`LAMBDA_LENS_XRAY_ENDPOINT`), the region (`AWS_REGION`) and the execution role's credentials
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), read once: Lambda sets them
//! for the execution environment's lifetime. How they become an endpoint and a signer is the
//! X-Ray exporter's business; what is missing is its error, not a warning.
//!
//! OTLP settings X-Ray cannot honour (an OTLP endpoint, gRPC) are warned about here.

use std::fmt;

use super::function::REGION;
use super::otlp::{OtlpSettings, Transport, ENDPOINT, PROTOCOL, TRACES_ENDPOINT, TRACES_PROTOCOL};
use super::parse::Env;
use super::variable::{Fallback, Variable};

pub(super) const XRAY_ENDPOINT: Variable = Variable::user(
    "LAMBDA_LENS_XRAY_ENDPOINT",
    Fallback::Described("https://xray.${AWS_REGION}.amazonaws.com/v1/traces"),
);
const ACCESS_KEY_ID: Variable = Variable::platform("AWS_ACCESS_KEY_ID");
const SECRET_ACCESS_KEY: Variable = Variable::platform("AWS_SECRET_ACCESS_KEY");
const SESSION_TOKEN: Variable = Variable::platform("AWS_SESSION_TOKEN");

/// The variables of this group (`AWS_REGION` belongs to the function's identity).
pub(super) const VARIABLES: &[Variable] = &[
    XRAY_ENDPOINT,
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    SESSION_TOKEN,
];

/// AWS credentials for SigV4 signing.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN` (temporary credentials, as Lambda's execution role has).
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    // The secret and the token must never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What X-Ray export is configured with; each part may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XraySettings {
    /// `LAMBDA_LENS_XRAY_ENDPOINT`, trimmed; else the regional endpoint.
    pub endpoint: Option<String>,
    /// `AWS_REGION`, trimmed.
    pub region: Option<String>,
    /// The execution role's credentials; `None` unless both the key id and the secret are set.
    pub credentials: Option<Credentials>,
}

impl XraySettings {
    /// Reads the X-Ray variables, warning about the `otlp` settings X-Ray export overrides.
    pub(super) fn read(env: &mut Env<'_>, otlp: &OtlpSettings) -> Self {
        for variable in [ENDPOINT, TRACES_ENDPOINT] {
            if let Some(value) = env.get(&variable) {
                env.warn(
                    &variable,
                    &value,
                    "not used with LAMBDA_LENS_EXPORT_TARGET=xray (set LAMBDA_LENS_XRAY_ENDPOINT to override the X-Ray endpoint)",
                );
            }
        }
        if otlp.transport == Transport::Grpc {
            if let Some((variable, value)) = env.find(&[TRACES_PROTOCOL, PROTOCOL]) {
                env.warn(
                    &variable,
                    &value,
                    "X-Ray accepts OTLP/HTTP only: exporting with http/protobuf",
                );
            }
        }
        let credentials = match (env.get(&ACCESS_KEY_ID), env.get(&SECRET_ACCESS_KEY)) {
            (Some(access_key_id), Some(secret_access_key)) => Some(Credentials {
                access_key_id,
                secret_access_key,
                session_token: env.get(&SESSION_TOKEN),
            }),
            _ => None,
        };
        Self {
            endpoint: env.get(&XRAY_ENDPOINT).map(|url| url.trim().to_owned()),
            region: env.get(&REGION).map(|region| region.trim().to_owned()),
            credentials,
        }
    }
}
