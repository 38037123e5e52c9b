//! The Runtime API's address: `host:port` as Lambda sets `AWS_LAMBDA_RUNTIME_API`, or
//! `http://host:port[/base-path]` as emulators do, and the URIs of its API paths.

use std::fmt;

use http::uri::{Authority, PathAndQuery, Scheme, Uri};

/// Where a Runtime API lives: `http://host:port` plus an optional base path.
///
/// Lambda sets `AWS_LAMBDA_RUNTIME_API` to `host:port` with no scheme; emulators such as cargo-lambda
/// use `http://[::]:9000/.rt`. Both are accepted and the base path is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct RuntimeApiEndpoint {
    authority: Authority,
    base_path: String,
}

/// Why a Runtime API address could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    /// The value was empty.
    #[error("the address is empty")]
    Empty,
    /// A scheme other than `http` was given; the Runtime API is plain HTTP on loopback.
    #[error("unsupported scheme {0:?} (the Runtime API is plain http)")]
    UnsupportedScheme(String),
    /// The value is not `host:port` or `http://host:port[/base]`.
    #[error("not host:port or http://host:port[/base-path]: {0}")]
    Malformed(String),
}

impl RuntimeApiEndpoint {
    /// Parses `host:port` or `http://host:port[/base-path]`.
    pub fn parse(raw: &str) -> Result<Self, EndpointError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(EndpointError::Empty);
        }
        let with_scheme = if raw.contains("://") {
            raw.to_owned()
        } else {
            format!("http://{raw}")
        };
        let uri: Uri = with_scheme
            .parse()
            .map_err(|e: http::uri::InvalidUri| EndpointError::Malformed(format!("{raw} ({e})")))?;
        match uri.scheme() {
            Some(s) if *s == Scheme::HTTP => {}
            Some(s) => return Err(EndpointError::UnsupportedScheme(s.to_string())),
            None => return Err(EndpointError::Malformed(raw.to_owned())),
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| EndpointError::Malformed(raw.to_owned()))?;
        if authority.port_u16().is_none() || authority.host().is_empty() {
            return Err(EndpointError::Malformed(format!(
                "{raw} (a port is required)"
            )));
        }
        if uri.query().is_some() {
            return Err(EndpointError::Malformed(format!(
                "{raw} (no query allowed)"
            )));
        }
        let base_path = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            authority,
            base_path,
        })
    }

    /// The `host:port` part.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The base path, without a trailing slash (empty for plain `host:port`).
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The absolute URI for an API path such as `/2018-06-01/runtime/invocation/next`.
    pub fn uri(&self, path_and_query: &str) -> Uri {
        let pq = format!("{}{}", self.base_path, path_and_query);
        let pq = PathAndQuery::try_from(pq).unwrap_or_else(|_| PathAndQuery::from_static("/"));
        Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(pq)
            .build()
            .expect("scheme, authority and path were each validated")
    }
}

impl fmt::Display for RuntimeApiEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.base_path)
    }
}

impl fmt::Debug for RuntimeApiEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_accepts_lambda_form_without_scheme() {
        let ep = RuntimeApiEndpoint::parse("127.0.0.1:9001").expect("lambda form parses");
        assert_eq!(ep.authority().as_str(), "127.0.0.1:9001");
        assert_eq!(ep.base_path(), "");
        assert_eq!(
            ep.uri("/2018-06-01/runtime/invocation/next").to_string(),
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next"
        );
    }

    #[test]
    fn endpoint_keeps_scheme_and_base_path_of_emulators() {
        let ep = RuntimeApiEndpoint::parse("http://[::]:9000/.rt/").expect("emulator form parses");
        assert_eq!(ep.authority().as_str(), "[::]:9000");
        assert_eq!(ep.base_path(), "/.rt");
        assert_eq!(
            ep.uri("/2020-01-01/extension/register?x=1").to_string(),
            "http://[::]:9000/.rt/2020-01-01/extension/register?x=1"
        );
        assert_eq!(ep.to_string(), "http://[::]:9000/.rt");
    }

    #[test]
    fn endpoint_rejects_unusable_values() {
        assert_eq!(RuntimeApiEndpoint::parse(" "), Err(EndpointError::Empty));
        assert!(matches!(
            RuntimeApiEndpoint::parse("https://127.0.0.1:9001"),
            Err(EndpointError::UnsupportedScheme(s)) if s == "https"
        ));
        assert!(matches!(
            RuntimeApiEndpoint::parse("127.0.0.1"),
            Err(EndpointError::Malformed(_))
        ));
        assert!(matches!(
            RuntimeApiEndpoint::parse("not a url at all"),
            Err(EndpointError::Malformed(_))
        ));
    }
}
