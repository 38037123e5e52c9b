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

/// What was done to the data a data-source event reports (`faas.document.operation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DocumentOperation {
    /// A new object or item.
    Insert,
    /// A changed object or item.
    Edit,
    /// A removed object or item.
    Delete,
}

impl DocumentOperation {
    /// The value as the conventions spell it.
    fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "insert",
            Self::Edit => "edit",
            Self::Delete => "delete",
        }
    }
}

/// The `faas.document.*` attributes of a data-source event (S3, DynamoDB Streams), each when known.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Document<'a> {
    /// The bucket or table.
    pub(super) collection: Option<&'a str>,
    /// What was done.
    pub(super) operation: Option<DocumentOperation>,
    /// When, in ISO 8601 (UTC).
    pub(super) time: Option<&'a str>,
    /// The object's name.
    pub(super) name: Option<&'a str>,
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

    /// The `faas.document.*` attributes of a data-source event, those that are known.
    pub(super) fn document(&mut self, document: Document<'_>) {
        let fields = [
            (semconv::FAAS_DOCUMENT_COLLECTION, document.collection),
            (
                semconv::FAAS_DOCUMENT_OPERATION,
                document.operation.map(DocumentOperation::as_str),
            ),
            (semconv::FAAS_DOCUMENT_TIME, document.time),
            (semconv::FAAS_DOCUMENT_NAME, document.name),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                self.str(key, value);
            }
        }
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
