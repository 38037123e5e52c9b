//! Amazon MQ: ActiveMQ (top-level `eventSource` `aws:mq`) and RabbitMQ (`aws:rmq`) brokers.
//!
//! No attributes and no record contexts yet.

use super::{EventSource, Trigger};

/// Amazon MQ.
pub(super) struct Mq;

impl EventSource for Mq {
    fn trigger(&self) -> Trigger {
        Trigger::PubSub
    }

    fn names(&self) -> &'static [&'static str] {
        &["aws:mq", "aws:rmq"]
    }
}
