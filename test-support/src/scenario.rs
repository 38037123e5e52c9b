//! One runtime client run through a list of invocations, straight against the in-test Runtime API or
//! through the proxy, and what reached the Runtime API in a form the two runs can be compared by.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::HeaderMap;

use lambda_lens::record::{ProxyRecord, ResultRecord};

use crate::fake_lambda::{Call, FakeInvocation};
use crate::proxy::proxy_to_fake_lambda;
use crate::runtimes::ChildGuard;

/// What reached the Runtime API for one request id, minus what legitimately differs per hop.
#[derive(Debug, PartialEq)]
pub struct Seen {
    /// The request's path.
    pub path: String,
    /// Headers by lowercase name, repeated values joined in order, `Host` left out.
    pub headers: BTreeMap<String, String>,
    /// The body, whole.
    pub body: Bytes,
    /// The trailers of a chunked body, as the headers.
    pub trailers: Option<BTreeMap<String, String>>,
}

impl Seen {
    /// The comparable part of `call`.
    pub fn of(call: &Call) -> Self {
        Self {
            path: call.path.clone(),
            headers: comparable(&call.headers),
            body: call.body.clone(),
            trailers: call.trailers.as_ref().map(comparable),
        }
    }
}

/// Headers by name, repeated values joined in order, `Host` left out (it names each hop).
fn comparable(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for name in headers.keys().filter(|k| *k != "host") {
        let values: Vec<_> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        map.insert(name.to_string(), values.join(", "));
    }
    map
}

/// Runs `invocations` against a fresh Runtime API, through the proxy or not, with the runtime that
/// `spawn` starts for a given `AWS_LAMBDA_RUNTIME_API`; returns what the runtime sent back for each,
/// plus the proxy's result records when proxied.
pub async fn run_scenario(
    invocations: &[FakeInvocation],
    proxied: bool,
    spawn: impl Fn(&str) -> ChildGuard,
) -> (Vec<Seen>, Vec<ResultRecord>) {
    let (fake, mut proxy) = proxy_to_fake_lambda().await;
    let api = if proxied {
        proxy.runtime_api()
    } else {
        fake.runtime_api()
    };
    let _runtime = spawn(&api);
    let mut seen_calls = Vec::new();
    for inv in invocations {
        fake.push_invocation(inv.clone());
        let call = fake.wait_for_result(&inv.request_id).await;
        seen_calls.push(Seen::of(&call));
    }
    let mut results = Vec::new();
    if proxied {
        while results.len() < invocations.len() {
            if let ProxyRecord::Result(r) = proxy.record().await {
                results.push(*r);
            }
        }
    }
    (seen_calls, results)
}
