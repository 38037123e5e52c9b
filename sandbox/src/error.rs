//! Errors of the sandbox's own operations (starting, serving, invoking over HTTP).

use std::net::SocketAddr;

/// Failures of the sandbox itself (a function's failure is an [`crate::InvokeOutcome`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configuration cannot work (e.g. an empty runtime command).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An HTTP exchange with an invoke endpoint failed.
    #[error("HTTP request to {url} failed: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}
