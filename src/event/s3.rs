//! Amazon S3 event notifications: `Records[]` whose `eventSource` is `aws:s3`; a cut head is
//! recognised by its records' `s3` key.
//!
//! Attributes: `aws.s3.bucket`, `aws.s3.key` (first record; URL-decoded, as S3 notifications encode
//! keys), the FaaS data-source attributes of the first record — `faas.document.collection` (the
//! bucket), `faas.document.name` (the key), `faas.document.operation` (from `eventName`, see
//! [`operation`]), `faas.document.time` (`eventTime`, already ISO 8601 UTC) — and
//! `lambda_lens.event.record_count` (no convention counts the records of a data-source event). An
//! invocation has one span, so the first record speaks for the batch (S3 sends one record per
//! notification). Records are counted; they carry no id or trace context.

use super::attributes::{Document, DocumentOperation};
use super::fields::text;
use super::records::{is_record, Batch};
use super::{EventAttributes, EventSource, HeadSniff, ParsedBody, Trigger};
use crate::json::PathStep;
use crate::redact::RedactionRules;
use crate::spans::names::{lens, semconv};

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
        let bucket = s3.and_then(|s| s.pointer("/bucket/name")?.as_str());
        let key = s3
            .and_then(|s| s.pointer("/object/key")?.as_str())
            .map(decode_key);
        if let Some(bucket) = bucket {
            out.str(semconv::AWS_S3_BUCKET, bucket);
        }
        if let Some(key) = &key {
            out.str(semconv::AWS_S3_KEY, key.as_str());
        }
        out.document(Document {
            collection: bucket,
            operation: text(batch.first, "eventName").and_then(operation),
            time: text(batch.first, "eventTime"),
            name: key.as_deref(),
        });
        if let Some(count) = batch.count() {
            out.int(lens::EVENT_RECORD_COUNT, count);
        }
    }

    fn is_record(&self, path: &[PathStep<'_>]) -> bool {
        is_record(path)
    }
}

/// The operation an S3 notification's `eventName` (`ObjectCreated:Put`, …) reports: objects created
/// are inserted, removed or expired ones deleted; tags, ACLs, restores and storage-class changes
/// edit an existing object. Replication and other events name no operation on the bucket's data.
fn operation(event_name: &str) -> Option<DocumentOperation> {
    let family = event_name.split(':').next().unwrap_or_default();
    match family {
        "ObjectCreated" => Some(DocumentOperation::Insert),
        "ObjectRemoved" | "LifecycleExpiration" => Some(DocumentOperation::Delete),
        "ObjectTagging"
        | "ObjectAcl"
        | "ObjectRestore"
        | "LifecycleTransition"
        | "IntelligentTiering" => Some(DocumentOperation::Edit),
        _ => None,
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

    #[test]
    fn event_names_map_to_document_operations() {
        use DocumentOperation::{Delete, Edit, Insert};
        let cases = [
            ("ObjectCreated:Put", Some(Insert)),
            ("ObjectCreated:CompleteMultipartUpload", Some(Insert)),
            ("ObjectRemoved:Delete", Some(Delete)),
            ("ObjectRemoved:DeleteMarkerCreated", Some(Delete)),
            ("LifecycleExpiration:Delete", Some(Delete)),
            ("ObjectTagging:Put", Some(Edit)),
            ("ObjectAcl:Put", Some(Edit)),
            ("ObjectRestore:Completed", Some(Edit)),
            ("LifecycleTransition", Some(Edit)),
            ("Replication:OperationFailedReplication", None),
            ("", None),
        ];
        for (name, expected) in cases {
            assert_eq!(operation(name), expected, "{name}");
        }
    }

    #[test]
    fn the_first_record_gives_the_document_attributes() {
        let event = ParsedBody::new(include_bytes!("../../tests/fixtures/events/s3.json"), true);
        let mut out = EventAttributes::default();
        S3.attributes(&event, &RedactionRules::default(), &mut out);
        let get = |key: &str| {
            out.attributes
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
        };
        let s = |v: &str| Some(super::super::AttrValue::Str(v.to_owned()));
        assert_eq!(get("faas.document.collection"), s("example-bucket"));
        assert_eq!(get("faas.document.name"), s("test/key"));
        assert_eq!(get("faas.document.operation"), s("insert"));
        assert_eq!(get("faas.document.time"), s("1970-01-01T00:00:00.000Z"));
    }
}
