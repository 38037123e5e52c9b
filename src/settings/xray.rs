//! Direct export to AWS (`LAMBDA_LENS_EXPORT_TARGET=xray`): traces to X-Ray, logs to CloudWatch
//! Logs, metrics to CloudWatch, each at its OTLP endpoint. Read here: the endpoint overrides
//! (`LAMBDA_LENS_XRAY_ENDPOINT`, `LAMBDA_LENS_CLOUDWATCH_LOGS_ENDPOINT`,
//! `LAMBDA_LENS_CLOUDWATCH_METRICS_ENDPOINT`), the log group and stream logs go to (the function's
//! own by default), the region (`AWS_REGION`) and the execution role's credentials
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), read once: Lambda sets them
//! for the execution environment's lifetime. How they become endpoints and signers is the
//! exporter's business; what is missing is its error, not a warning.
//!
//! OTLP settings the AWS endpoints cannot honour (an OTLP endpoint, gRPC) are warned about here.

use std::fmt;

use super::function::{FUNCTION_NAME, REGION};
use super::otlp::{endpoint_variables, protocol_variables, OtlpSettings, Signal, Transport};
use super::parse::Env;
use super::variable::{Fallback, Variable};

pub(super) const XRAY_ENDPOINT: Variable = Variable::user(
    "LAMBDA_LENS_XRAY_ENDPOINT",
    Fallback::Described("https://xray.${AWS_REGION}.amazonaws.com/v1/traces"),
);
pub(super) const LOGS_ENDPOINT: Variable = Variable::user(
    "LAMBDA_LENS_CLOUDWATCH_LOGS_ENDPOINT",
    Fallback::Described("https://logs.${AWS_REGION}.amazonaws.com/v1/logs"),
);
pub(super) const METRICS_ENDPOINT: Variable = Variable::user(
    "LAMBDA_LENS_CLOUDWATCH_METRICS_ENDPOINT",
    Fallback::Described("https://monitoring.${AWS_REGION}.amazonaws.com/v1/metrics"),
);
const LOG_GROUP: Variable = Variable::user(
    "LAMBDA_LENS_CLOUDWATCH_LOG_GROUP",
    Fallback::Described(
        "`AWS_LAMBDA_LOG_GROUP_NAME`, else `/aws/lambda/${AWS_LAMBDA_FUNCTION_NAME}`",
    ),
);
const LOG_STREAM: Variable = Variable::user(
    "LAMBDA_LENS_CLOUDWATCH_LOG_STREAM",
    Fallback::Described("`AWS_LAMBDA_LOG_STREAM_NAME`, else the environment's own stream"),
);
const FUNCTION_LOG_GROUP: Variable = Variable::platform("AWS_LAMBDA_LOG_GROUP_NAME");
const FUNCTION_LOG_STREAM: Variable = Variable::platform("AWS_LAMBDA_LOG_STREAM_NAME");
const ACCESS_KEY_ID: Variable = Variable::platform("AWS_ACCESS_KEY_ID");
const SECRET_ACCESS_KEY: Variable = Variable::platform("AWS_SECRET_ACCESS_KEY");
const SESSION_TOKEN: Variable = Variable::platform("AWS_SESSION_TOKEN");

/// The variables of this group (`AWS_REGION` belongs to the function's identity).
pub(super) const VARIABLES: &[Variable] = &[
    XRAY_ENDPOINT,
    LOGS_ENDPOINT,
    METRICS_ENDPOINT,
    LOG_GROUP,
    LOG_STREAM,
    FUNCTION_LOG_GROUP,
    FUNCTION_LOG_STREAM,
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

/// What export to AWS is configured with; each part may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XraySettings {
    /// `LAMBDA_LENS_XRAY_ENDPOINT`, trimmed; else the regional endpoint.
    pub endpoint: Option<String>,
    /// `LAMBDA_LENS_CLOUDWATCH_LOGS_ENDPOINT`, trimmed; else the regional endpoint.
    pub logs_endpoint: Option<String>,
    /// `LAMBDA_LENS_CLOUDWATCH_METRICS_ENDPOINT`, trimmed; else the regional endpoint.
    pub metrics_endpoint: Option<String>,
    /// The log group log records go to (`x-aws-log-group`): the setting, else the function's
    /// (`AWS_LAMBDA_LOG_GROUP_NAME`, which Lambda does not pass to extensions, else Lambda's default
    /// `/aws/lambda/<function name>`).
    pub log_group: Option<String>,
    /// The log stream log records go to (`x-aws-log-stream`): the setting, else
    /// `AWS_LAMBDA_LOG_STREAM_NAME` (not passed to extensions on Lambda); `None`: the
    /// environment's own stream, which the Telemetry API names in `platform.initStart`.
    pub log_stream: Option<String>,
    /// `AWS_REGION`, trimmed.
    pub region: Option<String>,
    /// The execution role's credentials; `None` unless both the key id and the secret are set.
    pub credentials: Option<Credentials>,
}

impl XraySettings {
    /// Reads the AWS variables, warning about the settings of the exported signals (`otlp`) that
    /// the AWS endpoints override (each variable once).
    pub(super) fn read(env: &mut Env<'_>, otlp: &[&OtlpSettings]) -> Self {
        let mut warned = Vec::new();
        for settings in otlp {
            let mut overridden: Vec<(Variable, &str)> = endpoint_variables(settings.signal)
                .into_iter()
                .map(|variable| {
                    (
                        variable,
                        "not used with LAMBDA_LENS_EXPORT_TARGET=xray (LAMBDA_LENS_XRAY_ENDPOINT and LAMBDA_LENS_CLOUDWATCH_*_ENDPOINT override the AWS endpoints)",
                    )
                })
                .collect();
            if settings.transport == Transport::Grpc {
                if let Some((variable, _)) = env.find(&protocol_variables(settings.signal)) {
                    overridden.push((
                        variable,
                        "the AWS OTLP endpoints accept OTLP/HTTP only: exporting with http/protobuf",
                    ));
                }
            }
            for (variable, message) in overridden {
                if warned.contains(&variable.name) {
                    continue;
                }
                if let Some(value) = env.get(&variable) {
                    warned.push(variable.name);
                    env.warn(&variable, &value, message);
                }
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
        let trimmed = |variable: &Variable| env.get(variable).map(|text| text.trim().to_owned());
        let logs = otlp.iter().any(|settings| settings.signal == Signal::Logs);
        let (log_group, log_stream) = if logs {
            (
                trimmed(&LOG_GROUP)
                    .or_else(|| trimmed(&FUNCTION_LOG_GROUP))
                    .or_else(|| trimmed(&FUNCTION_NAME).map(|name| format!("/aws/lambda/{name}"))),
                trimmed(&LOG_STREAM).or_else(|| trimmed(&FUNCTION_LOG_STREAM)),
            )
        } else {
            (None, None)
        };
        Self {
            endpoint: trimmed(&XRAY_ENDPOINT),
            logs_endpoint: trimmed(&LOGS_ENDPOINT),
            metrics_endpoint: trimmed(&METRICS_ENDPOINT),
            log_group,
            log_stream,
            region: trimmed(&REGION),
            credentials,
        }
    }
}
