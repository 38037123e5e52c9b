//! The log signal: log records (built, with their trace and span ids, by the caller) batched and
//! encoded as an `ExportLogsServiceRequest` under the resource and lambda-lens's scope.
//!
//! Bounds: the queue holds at most [`LOG_QUEUE_RECORDS`] records; a request at most
//! [`MAX_BATCH_LOG_RECORDS`].

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_sdk::Resource;
use prost::Message;

use super::outbox::Batcher;
use super::queue::Queue;
use super::request::{scope, ResourceHeader};

/// The most log records waiting for export: with records of a few hundred bytes, about a MiB.
pub const LOG_QUEUE_RECORDS: usize = 4096;
/// The most log records in one request (CloudWatch Logs takes at most 10,000 events and 1 MB).
pub const MAX_BATCH_LOG_RECORDS: usize = 512;

/// How queued log records are cut into requests and encoded.
pub(crate) struct Logs(ResourceHeader);

impl Logs {
    /// Sent with `resource`.
    pub(crate) fn new(resource: &Resource) -> Self {
        Self(ResourceHeader::new(resource))
    }
}

impl Batcher for Logs {
    type Item = LogRecord;

    const ITEMS: &'static str = "log records";

    fn batch_len(&self, queued: &Queue<LogRecord>) -> usize {
        queued.len().min(MAX_BATCH_LOG_RECORDS)
    }

    fn encode(&self, batch: Vec<LogRecord>) -> Vec<u8> {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(self.0.resource.clone()),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope()),
                    log_records: batch,
                    schema_url: String::new(),
                }],
                schema_url: self.0.schema_url.clone(),
            }],
        }
        .encode_to_vec()
    }

    fn set_resource(&mut self, resource: &Resource) {
        *self = Self::new(resource);
    }
}
