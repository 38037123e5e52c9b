//! What an event tells about its invocation: semantic-convention attributes and, for HTTP events,
//! the span name ([`EventAttributes`]), filled in by each source's
//! [`super::EventSource::attributes`].

use crate::spans::names::semconv;

/// A span attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A string array (`aws.dynamodb.table_names`).
    StrArray(Vec<String>),
}

impl From<AttrValue> for opentelemetry::Value {
    fn from(value: AttrValue) -> Self {
        match value {
            AttrValue::Str(s) => s.into(),
            AttrValue::Int(i) => i.into(),
            AttrValue::StrArray(items) => opentelemetry::Value::Array(
                items
                    .into_iter()
                    .map(opentelemetry::StringValue::from)
                    .collect::<Vec<_>>()
                    .into(),
            ),
        }
    }
}

/// What an event tells about the invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventAttributes {
    /// The span name for HTTP events (`GET /items/{id}`); `None` keeps the function name.
    pub span_name: Option<String>,
    /// Semantic-convention attributes, in a stable order.
    pub attributes: Vec<(&'static str, AttrValue)>,
}

impl EventAttributes {
    /// Adds a string attribute.
    pub(super) fn str(&mut self, key: &'static str, value: impl Into<String>) {
        self.attributes.push((key, AttrValue::Str(value.into())));
    }

    /// Adds an integer attribute.
    pub(super) fn int(&mut self, key: &'static str, value: i64) {
        self.attributes.push((key, AttrValue::Int(value)));
    }

    /// The attributes every message a function processes gets: `messaging.system`,
    /// `messaging.destination.name` when known, `messaging.operation.type`=`process`.
    pub(super) fn messaging(&mut self, system: &str, destination: Option<&str>) {
        self.str(semconv::MESSAGING_SYSTEM, system);
        if let Some(destination) = destination {
            self.str(semconv::MESSAGING_DESTINATION_NAME, destination);
        }
        self.str(semconv::MESSAGING_OPERATION_TYPE, "process");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otel_values() {
        assert_eq!(
            opentelemetry::Value::from(AttrValue::StrArray(vec!["t".into()])),
            opentelemetry::Value::Array(vec![opentelemetry::StringValue::from("t")].into())
        );
        assert_eq!(
            opentelemetry::Value::from(AttrValue::Int(3)),
            opentelemetry::Value::I64(3)
        );
    }
}
