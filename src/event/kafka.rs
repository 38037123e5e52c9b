//! Apache Kafka: Amazon MSK (top-level `eventSource` `aws:kafka`) and self-managed clusters
//! (`SelfManagedKafka`).
//!
//! No attributes yet. Record contexts: the `traceparent`/`tracestate` record headers, which the
//! event carries as arrays of bytes (`"headers":[{"traceparent":[48,48,…]}]`) under
//! `records.<topic-partition>[]`; records are counted partition by partition.

use std::borrow::Cow;

use serde_json::Value;

use super::context::{Carrier, RecordContext};
use super::{EventSource, Trigger};

/// Apache Kafka (Amazon MSK and self-managed).
pub(super) struct Kafka;

impl EventSource for Kafka {
    fn trigger(&self) -> Trigger {
        Trigger::PubSub
    }

    fn names(&self) -> &'static [&'static str] {
        &["aws:kafka", "SelfManagedKafka"]
    }

    fn record_contexts<'a>(&self, event: &'a Value) -> Vec<RecordContext<'a>> {
        messages(event)
            .enumerate()
            .filter_map(|(record, message)| {
                let headers = message.get("headers")?.as_array()?;
                let carrier = Carrier::w3c(|name| header(headers, name))?;
                Some(RecordContext { record, carrier })
            })
            .collect()
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

/// A record header's value by case-insensitive name, decoded from its bytes; `None` when absent or
/// not UTF-8.
fn header<'a>(headers: &[Value], name: &str) -> Option<Cow<'a, str>> {
    let bytes = headers
        .iter()
        .filter_map(Value::as_object)
        .flatten()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))?
        .1
        .as_array()?
        .iter()
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ParsedBody, Source};

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
