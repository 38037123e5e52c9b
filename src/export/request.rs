//! What every OTLP request carries besides its items — the resource and lambda-lens's
//! instrumentation scope, as protobuf — and the encoded request a signal keeps until the target
//! acknowledged it.

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;

use super::wire::{resource_entry_len, Encoded};

/// The instrumentation scope of the log records and metrics lambda-lens produces.
pub const SCOPE_NAME: &str = "lambda-lens";

/// One batch, encoded (and compressed, for OTLP/HTTP with gzip) once: retries re-send these bytes.
#[derive(Debug, Clone)]
pub(crate) struct EncodedRequest {
    /// The request body as sent.
    pub(crate) body: Bytes,
    /// How many queued items (from the front of the queue) it carries.
    pub(crate) items: usize,
}

/// The resource as every request carries it: encoded once (when it is set), with its schema URL.
#[derive(Debug, Clone)]
pub(crate) struct ResourceHeader {
    pub(crate) resource: Encoded,
    pub(crate) schema_url: String,
}

impl ResourceHeader {
    /// `resource` as protobuf.
    pub(crate) fn new(resource: &Resource) -> Self {
        let resource = ResourceAttributesWithSchema::from(resource);
        Self {
            resource: Encoded::new(&ProtoResource {
                attributes: resource.attributes.0,
                dropped_attributes_count: 0,
                entity_refs: Vec::new(),
            }),
            schema_url: resource.schema_url.unwrap_or_default(),
        }
    }

    /// The length of a resource entry (`ResourceSpans`, …) holding no scope entry yet.
    pub(crate) fn entry_len(&self) -> usize {
        resource_entry_len(&self.resource, &self.schema_url)
    }
}

/// lambda-lens's scope (its name and version), encoded.
pub(crate) fn scope() -> Encoded {
    Encoded::new(&InstrumentationScope {
        name: SCOPE_NAME.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
    })
}
