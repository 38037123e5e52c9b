//! Reading fields of a parsed event the way every source does: a string member, an object member
//! by case-insensitive name, the resource part of an ARN. A field of an unexpected type reads as
//! absent, so someone's own payload never makes a source misbehave.

use serde_json::{Map, Value};

/// The string member `key` of `value`, if `value` is an object holding a string there.
pub(super) fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str()
}

/// The first member of `object` whose key equals `name` ignoring ASCII case (header and message
/// attribute names are case-insensitive in practice).
pub(super) fn member_ignore_case<'a>(
    object: &'a Map<String, Value>,
    name: &str,
) -> Option<&'a Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// The resource part of an ARN (`arn:partition:service:region:account:resource`); for SQS and SNS
/// it is the queue or topic name.
pub(super) fn arn_resource(arn: &str) -> Option<&str> {
    arn.splitn(6, ':').nth(5).filter(|r| !r.is_empty())
}

/// The name of the queue, topic, stream or table a batch's `eventSourceARN` names: an SQS or SNS
/// ARN's resource, a Kinesis `stream/<name>`'s or a DynamoDB `table/<name>/stream/<label>`'s name.
pub fn destination_name(arn: &str) -> Option<&str> {
    let resource = arn_resource(arn)?;
    match resource.split_once('/') {
        Some(("stream" | "table", rest)) => rest.split('/').next().filter(|n| !n.is_empty()),
        _ => Some(resource),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_of_odd_types_read_as_absent() {
        let event = json!({"a": "x", "n": 1, "o": {"Key": "v"}});
        assert_eq!(text(&event, "a"), Some("x"));
        assert_eq!(text(&event, "n"), None);
        assert_eq!(text(&json!("a"), "a"), None);
        let object = event["o"].as_object().expect("object");
        assert_eq!(member_ignore_case(object, "key"), Some(&json!("v")));
        assert_eq!(member_ignore_case(object, "other"), None);
    }

    #[test]
    fn arn_resources() {
        assert_eq!(
            arn_resource("arn:aws:sqs:us-east-2:123456789012:my-queue"),
            Some("my-queue")
        );
        assert_eq!(
            arn_resource("arn:aws:kinesis:us-east-2:1:stream/s/consumer/c:1"),
            Some("stream/s/consumer/c:1")
        );
        assert_eq!(arn_resource("arn:aws:sqs:us-east-2:1:"), None);
        assert_eq!(arn_resource("not an arn"), None);
    }

    #[test]
    fn destination_names_of_batch_sources() {
        for (arn, name) in [
            ("arn:aws:sqs:us-east-2:123456789012:my-queue", Some("my-queue")),
            ("arn:aws:sns:us-east-2:123456789012:topic", Some("topic")),
            ("arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream", Some("lambda-stream")),
            (
                "arn:aws:dynamodb:us-east-2:123456789012:table/my-table/stream/2024-06-10T19:26:16.525",
                Some("my-table"),
            ),
            ("arn:aws:kinesis:us-east-2:123456789012:stream/", None),
            ("not an arn", None),
        ] {
            assert_eq!(destination_name(arn), name, "{arn}");
        }
    }
}
