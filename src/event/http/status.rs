//! The HTTP status of a proxy-integration response (`{"statusCode": 200, ...}`), which names the
//! span's `http.response.status_code` and makes a 5xx answer an error.

use serde_json::Value;

use crate::event::ParsedBody;

/// The status of `response` (a number, or a string holding one, as API Gateway accepts), if it is a
/// valid status code.
pub fn response_status(response: &ParsedBody<'_>) -> Option<i64> {
    let status = match response.value()?.get("statusCode")? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (100..=599).contains(&status).then_some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(head: &[u8]) -> Option<i64> {
        response_status(&ParsedBody::new(head, false))
    }

    #[test]
    fn statuses() {
        assert_eq!(status(br#"{"statusCode":201,"body":"x"}"#), Some(201));
        assert_eq!(status(br#"{"statusCode":"404"}"#), Some(404));
        assert_eq!(status(br#"{"statusCode": 500, "body": "tru"#), Some(500));
        for none in [
            &br#"{"statusCode": 50"#[..],
            br#"{"statusCode":42}"#,
            br#"{"statusCode":true}"#,
            br#"{"body":"x"}"#,
            b"[200]",
            b"200",
            b"\xff",
            b"",
        ] {
            assert_eq!(status(none), None, "{}", String::from_utf8_lossy(none));
        }
    }
}
