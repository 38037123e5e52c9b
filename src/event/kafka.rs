//! Apache Kafka: Amazon MSK (top-level `eventSource` `aws:kafka`) and self-managed clusters
//! (`SelfManagedKafka`).
//!
//! No attributes yet. Records: `records.<topic-partition>[]`, counted partition by partition; their
//! context is in the `traceparent`/`tracestate` record headers, which the event carries as arrays
//! of byte values (`"headers":[{"traceparent":[48,48,…]}]`). Kafka messages have no id.

use serde_json::Value;

use super::context::{RecordField, W3cField};
use super::{EventSource, Trigger};
use crate::json::PathStep;

/// Apache Kafka (Amazon MSK and self-managed).
pub(super) struct Kafka;

impl EventSource for Kafka {
    fn trigger(&self) -> Trigger {
        Trigger::PubSub
    }

    fn names(&self) -> &'static [&'static str] {
        &["aws:kafka", "SelfManagedKafka"]
    }

    fn is_record(&self, path: &[PathStep<'_>]) -> bool {
        matches!(
            path,
            [
                PathStep::Key("records"),
                PathStep::Key(_),
                PathStep::Index(_)
            ]
        )
    }

    fn record_field(&self, path: &[PathStep<'_>]) -> Option<RecordField> {
        match path {
            [PathStep::Key("headers"), PathStep::Index(_), PathStep::Key(name)] => {
                W3cField::named(name).map(RecordField::W3cBytes)
            }
            _ => None,
        }
    }

    fn record_count(&self, event: &Value) -> usize {
        messages(event).count()
    }
}

/// The records of every partition (`records.<topic-partition>[]`), partition by partition.
fn messages(event: &Value) -> impl Iterator<Item = &Value> {
    let partitions = event.get("records").and_then(Value::as_object);
    partitions
        .into_iter()
        .flat_map(|partitions| partitions.values())
        .filter_map(Value::as_array)
        .flatten()
}

#[cfg(test)]
mod tests {
    use crate::event::{Carrier, ParsedBody, RecordContext, Source};

    fn bytes(text: &str) -> String {
        let list: Vec<String> = text.bytes().map(|b| b.to_string()).collect();
        format!("[{}]", list.join(","))
    }

    #[test]
    fn record_contexts_from_byte_headers() {
        let traceparent = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";
        let event = format!(
            r#"{{"eventSource":"SelfManagedKafka","records":{{"orders-0":[
                {{"topic":"orders","headers":[{{"other":[1]}}]}},
                {{"topic":"orders","headers":[{{"TraceParent":{}}},{{"tracestate":{}}}]}}
            ],"orders-1":[
                {{"topic":"orders","headers":[{{"traceparent":{}}}]}},
                {{"topic":"orders","headers":[{{"traceparent":[256]}}]}}
            ]}}}}"#,
            bytes(traceparent),
            bytes("k=v"),
            bytes(traceparent),
        );
        let parsed = ParsedBody::new(event.as_bytes(), true);
        assert_eq!(parsed.source(), Source::Kafka);
        let w3c = |record, tracestate: Option<&'static str>| RecordContext {
            record,
            message_id: None,
            carrier: Carrier::W3c {
                traceparent: traceparent.into(),
                tracestate: tracestate.map(Into::into),
            },
        };
        assert_eq!(
            parsed.record_contexts(),
            vec![w3c(1, Some("k=v")), w3c(2, None)]
        );
    }
}
