//! The log signal: log records (built, with their trace and span ids, by the caller) measured
//! when queued, batched, and written (see `wire`) as an `ExportLogsServiceRequest` under the
//! resource and lambda-lens's scope.
//!
//! Bounds: the queue holds at most [`LOG_QUEUE_RECORDS`] records; a request at most
//! [`MAX_BATCH_LOG_RECORDS`] records and about [`MAX_BATCH_LOG_BYTES`] of them.

use opentelemetry_sdk::Resource;

use super::outbox::Batcher;
use super::queue::{Batch, Queue};
use super::request::{scope, ResourceHeader};
use super::wire::{export_request, Encoded, MeasuredLog, ScopeEntry};

/// The most log records waiting for export: with records of a few hundred bytes, about a MiB.
pub const LOG_QUEUE_RECORDS: usize = 4096;
/// The most log records in one request (CloudWatch Logs takes at most 10,000 events and 1 MB).
pub const MAX_BATCH_LOG_RECORDS: usize = 512;
/// The most encoded bytes of log records in one request (a single larger record still goes
/// alone): CloudWatch Logs refuses requests over 1 MB, for good, and collectors' gRPC servers take
/// 4 MiB by default, while 512 records of long lines could reach several MB.
pub const MAX_BATCH_LOG_BYTES: usize = 1_000_000 - 64 * 1024;

/// How queued log records are cut into requests and encoded.
pub(crate) struct Logs {
    header: ResourceHeader,
    scope: Encoded,
}

impl Logs {
    /// Sent with `resource`.
    pub(crate) fn new(resource: &Resource) -> Self {
        Self {
            header: ResourceHeader::new(resource),
            scope: scope(),
        }
    }
}

impl Batcher for Logs {
    type Item = MeasuredLog;

    const ITEMS: &'static str = "log records";

    fn batch_len(&self, queued: &Queue<MeasuredLog>) -> usize {
        let mut bytes = 0;
        let mut count = 0;
        for record in queued.iter().take(MAX_BATCH_LOG_RECORDS) {
            // The record, its field tag and its length prefix.
            let len = record.encoded_len();
            bytes += len + 1 + prost::length_delimiter_len(len);
            if count > 0 && bytes > MAX_BATCH_LOG_BYTES {
                break;
            }
            count += 1;
        }
        count
    }

    fn encode(&self, batch: Batch<'_, MeasuredLog>) -> Vec<u8> {
        let records = ScopeEntry::new(&self.scope, "", batch.collect());
        export_request(&self.header.resource, &self.header.schema_url, &[records])
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.header = ResourceHeader::new(resource);
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use opentelemetry::trace::{SpanId, TraceId};
    use opentelemetry::KeyValue;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope};
    use opentelemetry_proto::tonic::logs::v1::{
        LogRecord, ResourceLogs, ScopeLogs, SeverityNumber,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use prost::Message;

    use super::*;
    use crate::export::wire::{LogAttribute, LogEntry, TraceIds};
    use crate::export::SCOPE_NAME;
    use crate::proto_values;

    #[test]
    fn records_are_written_as_the_owned_request_encodes_them() {
        let resource = Resource::builder_empty()
            .with_schema_url(
                [KeyValue::new("service.name", "orders-fn")],
                "https://opentelemetry.io/schemas/1.26.0",
            )
            .build();
        let mut queue = Queue::new(LOG_QUEUE_RECORDS);
        let entries = vec![
            entry(3),
            LogEntry {
                time_unix_nano: 1_700_000_000_000_000_000,
                severity: SeverityNumber::Info,
                severity_text: Cow::Borrowed("INFO"),
                attributes: vec![LogAttribute::text("log.iostream", "stdout")],
                trace: Some(TraceIds {
                    trace_id: TraceId::from_bytes([7; 16]),
                    span_id: SpanId::from_bytes([8; 8]),
                    sampled: true,
                }),
                ..entry(0)
            },
        ];
        let records = vec![
            LogRecord {
                body: string_body(3),
                ..LogRecord::default()
            },
            LogRecord {
                time_unix_nano: 1_700_000_000_000_000_000,
                severity_number: 9,
                severity_text: "INFO".to_owned(),
                body: string_body(0),
                attributes: vec![proto_values::string("log.iostream", "stdout")],
                trace_id: vec![7; 16],
                span_id: vec![8; 8],
                flags: 1,
                ..LogRecord::default()
            },
        ];
        queue.push(entries.into_iter().map(MeasuredLog::new));
        let converted = ResourceAttributesWithSchema::from(&resource);
        let expected = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(ProtoResource {
                    attributes: converted.attributes.0,
                    ..ProtoResource::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: SCOPE_NAME.to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                        ..InstrumentationScope::default()
                    }),
                    log_records: records,
                    schema_url: String::new(),
                }],
                schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
            }],
        };

        let written = Logs::new(&resource).encode(queue.front(2));

        assert_eq!(
            ExportLogsServiceRequest::decode(written.as_slice()).expect("valid OTLP"),
            expected
        );
        assert_eq!(written, expected.encode_to_vec(), "byte for byte, too");
    }

    fn string_body(chars: usize) -> Option<AnyValue> {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue("x".repeat(chars))),
        })
    }

    /// A record whose body is `chars` characters, nothing else set.
    fn entry(chars: usize) -> LogEntry {
        LogEntry {
            time_unix_nano: 0,
            observed_time_unix_nano: 0,
            severity: SeverityNumber::Unspecified,
            severity_text: Cow::Borrowed(""),
            body: "x".repeat(chars),
            attributes: Vec::new(),
            trace: None,
        }
    }

    fn measured(chars: usize) -> MeasuredLog {
        MeasuredLog::new(entry(chars))
    }

    #[test]
    fn batches_stay_under_the_byte_bound_and_a_huge_record_goes_alone() {
        let logs = Logs::new(&Resource::builder_empty().build());
        let mut queue = Queue::new(LOG_QUEUE_RECORDS);
        queue.push((0..512).map(|_| measured(16_000)));
        let count = logs.batch_len(&queue);
        assert!(count < 512 && count > 0, "{count}");
        let encoded = logs.encode(queue.front(count));
        assert!(
            encoded.len() <= MAX_BATCH_LOG_BYTES + 1024,
            "{}",
            encoded.len()
        );
        let more = logs.encode(queue.front(count + 1));
        assert!(
            more.len() > MAX_BATCH_LOG_BYTES,
            "the batch is as large as it may be"
        );

        let mut small = Queue::new(LOG_QUEUE_RECORDS);
        small.push((0..600).map(|_| measured(10)));
        assert_eq!(logs.batch_len(&small), MAX_BATCH_LOG_RECORDS);

        let mut huge = Queue::new(LOG_QUEUE_RECORDS);
        huge.push(vec![measured(2_000_000), measured(10)]);
        assert_eq!(logs.batch_len(&huge), 1);
    }
}
