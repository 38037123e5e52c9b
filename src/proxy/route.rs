//! Routing: which Runtime API call a runtime request is, from its method and path.

use crate::record::{RequestId, ResultKind};

/// The path prefix of every Runtime API call.
const RUNTIME_PREFIX: &str = "/2018-06-01/runtime/";

/// What the proxy does with a runtime request.
#[derive(Debug)]
pub(super) enum Route {
    /// `GET /runtime/invocation/next`: the long poll for the next event.
    Next,
    /// A result (`/response`, `/error` or `/init/error`) and the request id in its path.
    Result(ResultKind, Option<RequestId>),
    /// Anything else: relayed without a record.
    Other,
}

/// The route of a request for `method` and `path`; a result for `delivered` (the last event the
/// connection delivered) shares its request id.
pub(super) fn route(method: &str, path: &str, delivered: Option<&RequestId>) -> Route {
    let request_id = |id: &str| match delivered {
        Some(known) if known.as_str() == id => known.clone(),
        _ => RequestId::new(id),
    };
    let Some(rest) = path.strip_prefix(RUNTIME_PREFIX) else {
        return Route::Other;
    };
    if method == "GET" && rest == "invocation/next" {
        return Route::Next;
    }
    if method != "POST" {
        return Route::Other;
    }
    if rest == "init/error" {
        return Route::Result(ResultKind::InitError, None);
    }
    let Some(rest) = rest.strip_prefix("invocation/") else {
        return Route::Other;
    };
    match rest.rsplit_once('/') {
        Some((id, "response")) if !id.is_empty() && !id.contains('/') => {
            Route::Result(ResultKind::Response, Some(request_id(id)))
        }
        Some((id, "error")) if !id.is_empty() && !id.contains('/') => {
            Route::Result(ResultKind::Error, Some(request_id(id)))
        }
        _ => Route::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_runtime_paths() {
        assert!(matches!(
            route("GET", "/2018-06-01/runtime/invocation/next", None),
            Route::Next
        ));
        assert!(matches!(
            route("POST", "/2018-06-01/runtime/invocation/abc-1/response", None),
            Route::Result(ResultKind::Response, Some(id)) if id.as_str() == "abc-1"
        ));
        assert!(matches!(
            route("POST", "/2018-06-01/runtime/invocation/abc-1/error", None),
            Route::Result(ResultKind::Error, Some(id)) if id.as_str() == "abc-1"
        ));
        assert!(matches!(
            route("POST", "/2018-06-01/runtime/init/error", None),
            Route::Result(ResultKind::InitError, None)
        ));
        for (m, p) in [
            ("POST", "/2018-06-01/runtime/invocation/next"),
            ("GET", "/2018-06-01/runtime/invocation/a/response"),
            ("POST", "/2018-06-01/runtime/invocation//response"),
            ("POST", "/2018-06-01/runtime/invocation/a/b/response"),
            ("GET", "/2020-01-01/extension/event/next"),
            ("GET", "/"),
        ] {
            assert!(matches!(route(m, p, None), Route::Other), "{m} {p}");
        }
    }

    #[test]
    fn a_result_for_the_delivered_event_shares_its_request_id() {
        let delivered = RequestId::new("abc-1");
        let result_id = |path: &str| match route("POST", path, Some(&delivered)) {
            Route::Result(_, Some(id)) => id,
            other => panic!("{path} is no result route: {other:?}"),
        };
        let same = result_id("/2018-06-01/runtime/invocation/abc-1/response");
        assert_eq!(same.as_str().as_ptr(), delivered.as_str().as_ptr());
        let other = result_id("/2018-06-01/runtime/invocation/abc-2/error");
        assert_eq!(other.as_str(), "abc-2");
    }
}
