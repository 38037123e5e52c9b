//! The events the fake hands out on `/next`, with the headers Lambda always sends.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// The function ARN the fake's invocations name.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:example:live";
/// The X-Ray header the fake's invocations carry.
pub const TRACE_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

/// An invocation the fake hands out on `/next`.
#[derive(Clone, Debug)]
pub struct FakeInvocation {
    /// The request id (`Lambda-Runtime-Aws-Request-Id`).
    pub request_id: String,
    /// The answer's headers, in order.
    pub headers: Vec<(String, String)>,
    /// The event.
    pub body: Bytes,
}

impl FakeInvocation {
    /// An invocation with the headers Lambda always sends.
    pub fn new(request_id: &str, body: impl Into<Bytes>) -> Self {
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after epoch")
            .as_millis()
            + 30_000;
        Self {
            request_id: request_id.to_owned(),
            headers: vec![
                ("Lambda-Runtime-Aws-Request-Id".into(), request_id.into()),
                ("Lambda-Runtime-Deadline-Ms".into(), deadline.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn".into(),
                    FUNCTION_ARN.into(),
                ),
                ("Lambda-Runtime-Trace-Id".into(), TRACE_HEADER.into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: body.into(),
        }
    }

    /// The same invocation with header `name` set to `value` (replacing any of that name).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The value of header `name`, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
