//! Amazon S3 event notifications: `Records[]` whose `eventSource` is `aws:s3`; a cut head is
//! recognised by its records' `s3` key.
//!
//! Attributes: `aws.s3.bucket`, `aws.s3.key` (first record; URL-decoded, as S3 notifications encode
//! keys), `lambda_lens.event.record_count` (no convention counts the records of a data-source
//! event). Records are counted; they carry no id or trace context.

use super::records::{is_record, Batch};
use super::{EventAttributes, EventSource, HeadSniff, ParsedBody, Trigger};
use crate::json::PathStep;
use crate::redact::RedactionRules;
use crate::spans::names::lens;

const NAME: &str = "aws:s3";

/// Amazon S3 event notifications.
pub(super) struct S3;

impl EventSource for S3 {
    fn trigger(&self) -> Trigger {
        Trigger::Datasource
    }

    fn names(&self) -> &'static [&'static str] {
        &[NAME]
    }

    fn detect_head(&self, head: &HeadSniff<'_>) -> bool {
        head.has_records() && head.has(b"\"s3\"")
    }

    fn attributes(&self, event: &ParsedBody<'_>, _: &RedactionRules, out: &mut EventAttributes) {
        let Some(batch) = Batch::of(event, NAME) else {
            return;
        };
        let s3 = batch.first.get("s3");
        if let Some(bucket) = s3.and_then(|s| s.pointer("/bucket/name")?.as_str()) {
            out.str("aws.s3.bucket", bucket);
        }
        if let Some(key) = s3.and_then(|s| s.pointer("/object/key")?.as_str()) {
            out.str("aws.s3.key", decode_key(key));
        }
        if let Some(count) = batch.count() {
            out.int(lens::EVENT_RECORD_COUNT, count);
        }
    }

    fn is_record(&self, path: &[PathStep<'_>]) -> bool {
        is_record(path)
    }
}

/// S3 event notifications URL-encode object keys (spaces as `+`).
fn decode_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_decoded() {
        assert_eq!(decode_key("a%2Fb+c%zz%"), "a/b c%zz%");
    }
}
