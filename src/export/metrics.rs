//! The metric signal: collections of metrics (data points aggregated, temporality chosen by the
//! caller) batched and encoded as an `ExportMetricsServiceRequest` under the resource and
//! lambda-lens's scope, one scope entry per collection.
//!
//! Bounds: the queue holds at most [`METRIC_QUEUE_COLLECTIONS`] collections; a request at most
//! [`MAX_BATCH_METRIC_COLLECTIONS`].

use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_sdk::Resource;

use super::outbox::Batcher;
use super::queue::{Batch, Queue};
use super::request::{scope, ResourceHeader};
use super::wire::{export_request, Encoded, ProtoMessage, ScopeEntry};

/// The most metric collections waiting for export (one per flush that had metrics; a few KiB each).
pub const METRIC_QUEUE_COLLECTIONS: usize = 64;
/// The most metric collections in one request.
pub const MAX_BATCH_METRIC_COLLECTIONS: usize = 16;

/// How queued metric collections are cut into requests and encoded.
pub(crate) struct Metrics {
    header: ResourceHeader,
    scope: Encoded,
}

impl Metrics {
    /// Sent with `resource`.
    pub(crate) fn new(resource: &Resource) -> Self {
        Self {
            header: ResourceHeader::new(resource),
            scope: scope(),
        }
    }
}

impl Batcher for Metrics {
    type Item = Vec<Metric>;

    const ITEMS: &'static str = "metric collections";

    fn batch_len(&self, queued: &Queue<Vec<Metric>>) -> usize {
        queued.len().min(MAX_BATCH_METRIC_COLLECTIONS)
    }

    fn encode(&self, batch: Batch<'_, Vec<Metric>>) -> Vec<u8> {
        // One scope entry per collection, each under lambda-lens's scope.
        let collections: Vec<_> = batch
            .map(|metrics| {
                ScopeEntry::new(
                    &self.scope,
                    "",
                    metrics.iter().map(ProtoMessage::new).collect(),
                )
            })
            .collect();
        export_request(&self.header.resource, &self.header.schema_url, &collections)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.header = ResourceHeader::new(resource);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::metrics::v1::{
        metric, number_data_point, Gauge, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use prost::Message;

    use super::*;
    use crate::export::SCOPE_NAME;
    use crate::proto_values;

    fn gauge(name: &str, value: f64) -> Metric {
        Metric {
            name: name.to_owned(),
            unit: "s".to_owned(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint {
                    attributes: vec![proto_values::string("faas.name", "orders-fn")],
                    time_unix_nano: 1_700_000_000_000_000_000,
                    value: Some(number_data_point::Value::AsDouble(value)),
                    ..NumberDataPoint::default()
                }],
            })),
            ..Metric::default()
        }
    }

    #[test]
    fn collections_are_written_as_the_owned_request_encodes_them() {
        let resource = Resource::builder_empty()
            .with_attributes([KeyValue::new("service.name", "orders-fn")])
            .build();
        let collections = vec![
            vec![gauge("a", 1.5), gauge("b", 0.0)],
            vec![gauge("c", -2.0)],
        ];
        let mut queue = Queue::new(METRIC_QUEUE_COLLECTIONS);
        queue.push(collections.clone());
        let scope = InstrumentationScope {
            name: SCOPE_NAME.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            ..InstrumentationScope::default()
        };
        let expected = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(ProtoResource {
                    attributes: ResourceAttributesWithSchema::from(&resource).attributes.0,
                    ..ProtoResource::default()
                }),
                scope_metrics: collections
                    .into_iter()
                    .map(|metrics| ScopeMetrics {
                        scope: Some(scope.clone()),
                        metrics,
                        schema_url: String::new(),
                    })
                    .collect(),
                schema_url: String::new(),
            }],
        };

        let written = Metrics::new(&resource).encode(queue.front(2));

        assert_eq!(
            ExportMetricsServiceRequest::decode(written.as_slice()).expect("valid OTLP"),
            expected
        );
        assert_eq!(written, expected.encode_to_vec(), "byte for byte, too");
    }
}
