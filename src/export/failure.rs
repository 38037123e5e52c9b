//! What a failed export attempt was: the error as the transport saw it ([`SendError`]) and the
//! kind it counts as ([`FailureKind`]) for the circuit, the drop rule and the log lines.
//!
//! The drop rule: an answer refusing the request as such (HTTP 4xx other than 401, 403, 408 and
//! 429; gRPC `INVALID_ARGUMENT` and the other codes the OTLP specification calls not retryable)
//! would block the queue forever if kept, so its batch is dropped for good. Everything else is
//! kept and retried: no answer, a timeout, "come back later" (429, 503, other 5xx, 408, the
//! retryable gRPC codes) and credentials or permissions (401, 403), which configuration fixes.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use tonic::Code;

use super::otlp::HttpError;
use super::retry_after::RetryAfter;

/// Why one export request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// No answer over HTTP.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// An HTTP answer other than 2xx.
    #[error("HTTP export failed with status code: {status}")]
    Status {
        status: StatusCode,
        /// The answer's `Retry-After`, if it had a usable one.
        retry_after: Option<RetryAfter>,
    },
    /// A gRPC status other than `OK` (a connection error is `UNAVAILABLE`).
    #[error("gRPC export failed: {0}")]
    Grpc(tonic::Status),
    /// The request was cut because the flush's time was up.
    #[error("export did not finish within {0:?}")]
    DeadlineCut(Duration),
}

/// The kinds of failure, each logged at most once a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum FailureKind {
    /// No connection or no answer (refused, reset, TLS failed).
    Unreachable,
    /// No answer within the time given.
    TimedOut,
    /// The collector answered "later" (429, 503, 5xx, 408; retryable gRPC codes).
    Refused,
    /// The collector refused the credentials or the permission (401, 403).
    Unauthorized,
    /// The collector refused the request as such: its batch is dropped for good.
    Rejected,
}

impl FailureKind {
    /// The kind in words, for log lines.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Unreachable => "collector unreachable",
            Self::TimedOut => "collector did not answer in time",
            Self::Refused => "collector refused (try later)",
            Self::Unauthorized => "collector refused the credentials",
            Self::Rejected => "collector rejected a batch for good",
        }
    }
}

impl SendError {
    /// The kind this failure counts as.
    pub(crate) fn kind(&self) -> FailureKind {
        match self {
            Self::Http(HttpError::TimedOut(_)) | Self::DeadlineCut(_) => FailureKind::TimedOut,
            Self::Http(_) => FailureKind::Unreachable,
            Self::Status { status, .. } => match status.as_u16() {
                401 | 403 => FailureKind::Unauthorized,
                408 | 429 => FailureKind::Refused,
                400..=499 => FailureKind::Rejected,
                _ => FailureKind::Refused,
            },
            // A status with a source was made here from a transport error (a failed connect,
            // DNS, TLS, a reset, tonic's own timeout); one a server answered has none.
            Self::Grpc(status) if std::error::Error::source(status).is_some() => {
                if chain(status).any(|error| error.is::<tonic::TimeoutExpired>()) {
                    FailureKind::TimedOut
                } else {
                    FailureKind::Unreachable
                }
            }
            Self::Grpc(status) => match status.code() {
                Code::Unauthenticated | Code::PermissionDenied => FailureKind::Unauthorized,
                Code::DeadlineExceeded => FailureKind::TimedOut,
                Code::Unavailable if status.message().contains("transport") => {
                    FailureKind::Unreachable
                }
                Code::Cancelled
                | Code::Aborted
                | Code::OutOfRange
                | Code::Unavailable
                | Code::DataLoss
                | Code::ResourceExhausted
                | Code::Unknown
                | Code::Internal => FailureKind::Refused,
                _ => FailureKind::Rejected,
            },
        }
    }

    /// Whether the connection was refused: nothing listens at the endpoint, and the attempt cost
    /// one refused connect (no request reached a collector).
    pub(crate) fn is_refused_connection(&self) -> bool {
        let first: &(dyn std::error::Error + 'static) = match self {
            Self::Http(HttpError::Unreachable(error)) => error.as_ref(),
            Self::Grpc(status) => status,
            Self::Http(_) | Self::Status { .. } | Self::DeadlineCut(_) => return false,
        };
        chain(first).any(|error| {
            error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        })
    }

    /// When the collector said to come back (`Retry-After` on 429 and 503), seen at `now`.
    pub(crate) fn not_before(&self, now: SystemTime) -> Option<SystemTime> {
        match self {
            Self::Status {
                status,
                retry_after: Some(retry_after),
            } if matches!(status.as_u16(), 429 | 503) => Some(retry_after.not_before(now)),
            _ => None,
        }
    }
}

/// `error` and its sources, up the chain.
fn chain<'e>(
    error: &'e (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'e (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |error| error.source())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> SendError {
        SendError::Status {
            status: StatusCode::from_u16(code).expect("a valid status"),
            retry_after: Some(RetryAfter::Seconds(2)),
        }
    }

    #[test]
    fn only_permanent_refusals_are_rejections() {
        for (code, kind) in [
            (400, FailureKind::Rejected),
            (413, FailureKind::Rejected),
            (401, FailureKind::Unauthorized),
            (403, FailureKind::Unauthorized),
            (408, FailureKind::Refused),
            (429, FailureKind::Refused),
            (500, FailureKind::Refused),
            (503, FailureKind::Refused),
        ] {
            assert_eq!(status(code).kind(), kind, "{code}");
        }
        assert_eq!(
            SendError::Grpc(tonic::Status::invalid_argument("bad")).kind(),
            FailureKind::Rejected
        );
        assert_eq!(
            SendError::Grpc(tonic::Status::unavailable("busy")).kind(),
            FailureKind::Refused,
            "answered by a server"
        );
        let mut connect = tonic::Status::unavailable("tcp connect error");
        connect.set_source(std::sync::Arc::new(std::io::Error::new(
            std::io::ErrorKind::HostUnreachable,
            "no route to host",
        )));
        assert_eq!(
            SendError::Grpc(connect).kind(),
            FailureKind::Unreachable,
            "made here from a transport error: no answer"
        );
        let mut expired = tonic::Status::cancelled("Timeout expired");
        expired.set_source(std::sync::Arc::new(tonic::TimeoutExpired(())));
        assert_eq!(SendError::Grpc(expired).kind(), FailureKind::TimedOut);
        assert_eq!(
            SendError::DeadlineCut(Duration::from_millis(5)).kind(),
            FailureKind::TimedOut
        );
    }

    #[test]
    fn retry_after_counts_on_429_and_503_only() {
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(
            status(429).not_before(now),
            Some(now + Duration::from_secs(2))
        );
        assert_eq!(
            status(503).not_before(now),
            Some(now + Duration::from_secs(2))
        );
        assert_eq!(status(500).not_before(now), None);
    }
}
