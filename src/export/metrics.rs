//! The metric signal: collections of metrics (data points aggregated, temporality chosen by the
//! caller) batched and encoded as an `ExportMetricsServiceRequest` under the resource and
//! lambda-lens's scope, one scope entry per collection.
//!
//! Bounds: the queue holds at most [`METRIC_QUEUE_COLLECTIONS`] collections; a request at most
//! [`MAX_BATCH_METRIC_COLLECTIONS`].

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use opentelemetry_sdk::Resource;
use prost::Message;

use super::outbox::Batcher;
use super::queue::Queue;
use super::request::{scope, ResourceHeader};

/// The most metric collections waiting for export (one per flush that had metrics; a few KiB each).
pub const METRIC_QUEUE_COLLECTIONS: usize = 64;
/// The most metric collections in one request.
pub const MAX_BATCH_METRIC_COLLECTIONS: usize = 16;

/// How queued metric collections are cut into requests and encoded.
pub(crate) struct Metrics(ResourceHeader);

impl Metrics {
    /// Sent with `resource`.
    pub(crate) fn new(resource: &Resource) -> Self {
        Self(ResourceHeader::new(resource))
    }
}

impl Batcher for Metrics {
    type Item = Vec<Metric>;

    const ITEMS: &'static str = "metric collections";

    fn batch_len(&self, queued: &Queue<Vec<Metric>>) -> usize {
        queued.len().min(MAX_BATCH_METRIC_COLLECTIONS)
    }

    fn encode(&self, batch: Vec<Vec<Metric>>) -> Vec<u8> {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.0.resource.clone()),
                scope_metrics: batch
                    .into_iter()
                    .map(|metrics| ScopeMetrics {
                        scope: Some(scope()),
                        metrics,
                        schema_url: String::new(),
                    })
                    .collect(),
                schema_url: self.0.schema_url.clone(),
            }],
        }
        .encode_to_vec()
    }

    fn set_resource(&mut self, resource: &Resource) {
        *self = Self::new(resource);
    }
}
