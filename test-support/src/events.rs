//! Events built in the tests, in the shape and key order Lambda delivers them.

/// An SQS record from the queue `queue_arn` (in `us-east-1`), with `body` as given and optional
/// contexts: an `AWSTraceHeader` system attribute and a `traceparent` message attribute. Keys are
/// in Lambda's order (`receiptHandle` before `body`, so a head cut inside a long body still shows
/// the source).
pub fn sqs_record(
    queue_arn: &str,
    id: &str,
    body: &str,
    xray: Option<&str>,
    traceparent: Option<&str>,
) -> String {
    let xray = xray
        .map(|header| format!(r#","AWSTraceHeader":"{header}""#))
        .unwrap_or_default();
    let attributes = traceparent
        .map(|tp| {
            format!(
                r#""traceparent":{{"stringValue":"{tp}","stringListValues":[],"binaryListValues":[],"dataType":"String"}}"#
            )
        })
        .unwrap_or_default();
    format!(
        r#"{{"messageId":"{id}","receiptHandle":"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a","body":"{body}","attributes":{{"ApproximateReceiveCount":"1","SentTimestamp":"1545082649183"{xray}}},"messageAttributes":{{{attributes}}},"md5OfBody":"e4e68fb7bd0e697a0ae8f1bb342846b3","eventSource":"aws:sqs","eventSourceARN":"{queue_arn}","awsRegion":"us-east-1"}}"#
    )
}

/// An SQS event of `records`.
pub fn sqs_event(records: &[String]) -> Vec<u8> {
    format!(r#"{{"Records":[{}]}}"#, records.join(",")).into_bytes()
}
