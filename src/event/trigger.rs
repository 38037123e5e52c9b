//! The OpenTelemetry `faas.trigger` values (semantic-conventions `docs/faas/faas-spans.md`):
//! `pubsub` when the function runs because messages were sent to a messaging system, `datasource`
//! when it responds to a data store's read/write, `timer` for schedules, `http` for inbound HTTP
//! requests, `other` for anything else. Each event source names its own
//! ([`super::EventSource::trigger`]).

/// OpenTelemetry `faas.trigger` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// An inbound HTTP request (API Gateway, function URL, ALB).
    Http,
    /// Messages from a messaging system (SQS, SNS, Kinesis, Kafka, MQ, EventBridge).
    PubSub,
    /// A data store operation (S3, DynamoDB Streams, DocumentDB).
    Datasource,
    /// A schedule.
    Timer,
    /// Anything else, including direct invocations.
    Other,
}

impl Trigger {
    /// The attribute value: `http`, `pubsub`, `datasource`, `timer` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::PubSub => "pubsub",
            Self::Datasource => "datasource",
            Self::Timer => "timer",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values() {
        let values = [
            Trigger::Http,
            Trigger::PubSub,
            Trigger::Datasource,
            Trigger::Timer,
            Trigger::Other,
        ]
        .map(Trigger::as_str);
        assert_eq!(values, ["http", "pubsub", "datasource", "timer", "other"]);
    }
}
